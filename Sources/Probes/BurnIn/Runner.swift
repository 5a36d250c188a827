import Foundation

/// Where a burn-in runs: what the disk probe writes to, which peer the network probe measures
/// against, and whether destructive targets are allowed.
public struct BurnInContext: Sendable {
    /// The disk probe's target: a file path (created and removed) or a block device.
    public var diskTarget: String?
    /// Write to a block device even if it is mounted, in use or holds data, or to an existing file.
    public var force: Bool
    /// The network probe's peer, "HOST:PORT" of a `nodeagent burnin net-server`.
    public var networkPeer: String?

    public init(diskTarget: String? = nil, force: Bool = false, networkPeer: String? = nil) {
        self.diskTarget = diskTarget
        self.force = force
        self.networkPeer = networkPeer
    }
}

/// Live progress of a burn-in: which probe and step, how far, and the current rate.
public struct BurnInProgress: Sendable, Equatable {
    public var probe: String
    public var step: String
    /// 0...1 within the probe.
    public var fraction: Double
    /// The current rate in words ("1.82 GiB/s", "143 k IOPS"); empty when none.
    public var rate: String

    public init(probe: String, step: String, fraction: Double, rate: String = "") {
        self.probe = probe
        self.step = step
        self.fraction = fraction
        self.rate = rate
    }
}

/// One probe as a burn-in runs it: its settings from the profile in, a probe-independent
/// outcome out. It reports progress, and on cancellation stops, cleans up, and returns an
/// `interrupted` outcome with what it measured so far.
public protocol BurnInProbe: Sendable {
    var name: String { get }
    /// Checks the profile's options for this probe (and the context it needs) without running
    /// anything: a typo in a profile is refused before a long burn-in starts.
    func validate(_ settings: ProbeSettings, context: BurnInContext) throws(BurnInSetupError)
    func run(
        _ settings: ProbeSettings, context: BurnInContext, progress: @escaping @Sendable (BurnInProgress) -> Void
    ) async -> ProbeOutcome
}

/// Runs a profile's probes in order, evaluates its checks, and builds the report.
public struct BurnInRunner: Sendable {
    public var probes: [String: any BurnInProbe]

    public init(probes: [any BurnInProbe]) {
        self.probes = Dictionary(probes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Every problem of `profile` in `context`, before anything runs (empty when it can run).
    public func validate(_ profile: BurnInProfile, context: BurnInContext) -> [BurnInSetupError] {
        var problems: [BurnInSetupError] = []
        for name in profile.enabledProbes {
            guard let probe = probes[name] else { continue }
            do {
                try probe.validate(profile.probes[name] ?? ProbeSettings(), context: context)
            } catch {
                problems.append(error)
            }
        }
        return problems
    }

    /// Runs `profile`. Cancellation (Ctrl-C, a cancelled task) stops the probe that runs, which
    /// cleans up; the probes after it are reported as skipped, and the report is marked
    /// interrupted. `baseline` holds fleet medians for `min_baseline_ratio` checks.
    public func run(
        _ profile: BurnInProfile, context: BurnInContext, baseline: [String: Double] = [:], host: HostIdentity = .current(),
        progress: @escaping @Sendable (BurnInProgress) -> Void = { _ in }
    ) async -> BurnInReport {
        let started = Date()
        var outcomes: [ProbeOutcome] = []
        var interrupted = false
        for name in profile.enabledProbes {
            let settings = profile.probes[name] ?? ProbeSettings()
            if Task.isCancelled || interrupted {
                interrupted = true
                outcomes.append(ProbeOutcome(probe: name, status: .skipped, reason: "the burn-in was interrupted before it ran", started: Date(), seconds: 0))
                continue
            }
            guard let probe = probes[name] else {
                outcomes.append(ProbeOutcome(probe: name, status: .skipped, reason: "this agent has no \(name) probe", started: Date(), seconds: 0))
                continue
            }
            progress(BurnInProgress(probe: name, step: "starting", fraction: 0))
            let outcome = await probe.run(settings, context: context, progress: progress)
            outcomes.append(outcome)
            if outcome.status == .interrupted || Task.isCancelled { interrupted = true }
        }
        let checks = CheckEvaluator.evaluate(profile.checks, outcomes: outcomes, baseline: baseline)
        var host = host
        if host.diskModels.isEmpty {
            for outcome in outcomes {
                if case .health(let health)? = outcome.detail {
                    host.diskModels = health.smart.devices.compactMap(\.model).sorted()
                }
            }
        }
        return BurnInReport(
            host: host, profile: profile.name, started: started, finished: Date(), interrupted: interrupted, checks: checks, probes: outcomes)
    }
}
