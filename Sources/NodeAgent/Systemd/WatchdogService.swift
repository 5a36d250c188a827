public import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// Pings the systemd watchdog (`WATCHDOG=1`) every `interval`, but only after a liveness probe
/// succeeded within that interval: a wedged agent stops pinging and systemd restarts it
/// (`WatchdogSec=` in the unit).
///
/// The probe runs once at start and then once per interval (start to start). A probe that throws
/// or does not finish within the interval skips that ping and logs a warning. A probe that ignores
/// cancellation after its timeout is not started again while it still runs (every period until
/// it returns counts as failed), so a hung probe never piles up.
///
/// Ends, returning normally, on graceful shutdown or cancellation. In a `ServiceGroup`, give it
/// `successTerminationBehavior: .gracefullyShutdownGroup` (or `.ignore`) like other services that
/// return.
public struct WatchdogService: Service {
    public let notifier: SystemdNotifier
    public let interval: Duration
    private let logger: Logger
    private let probe: @Sendable () async throws -> Void

    public init(
        notifier: SystemdNotifier, interval: Duration, logger: Logger,
        probe: @escaping @Sendable () async throws -> Void
    ) {
        self.notifier = notifier
        self.interval = interval
        self.logger = logger
        self.probe = probe
    }

    /// The watchdog systemd asked for (NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID, pinging at
    /// half the timeout), or nil when it asked for none.
    public init?(
        environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger,
        probe: @escaping @Sendable () async throws -> Void
    ) {
        guard let notifier = SystemdNotifier(environment: environment),
            let interval = SystemdNotifier.watchdogInterval(environment: environment)
        else { return nil }
        self.init(notifier: notifier, interval: interval, logger: logger, probe: probe)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.loop() }
    }

    private func loop() async {
        let clock = ContinuousClock()
        var stillRunning: ProbeRun?
        var next = clock.now
        while !Task.isCancelled {
            next = next.advanced(by: interval)
            let outcome: ProbeOutcome
            if let previous = stillRunning, !previous.hasFinished {
                outcome = .stillRunning
            } else {
                let run = ProbeRun(probe)
                outcome = await run.outcome(timeout: interval)
                stillRunning = run
            }
            switch outcome {
            case .cancelled:
                return
            case .passed:
                do {
                    try notifier.watchdog()
                } catch {
                    logger.error("cannot ping the systemd watchdog", metadata: ["error": "\(error)"])
                }
            case .failed(let error):
                logger.warning(
                    "liveness probe failed; not pinging the systemd watchdog",
                    metadata: ["error": "\(error)"])
            case .timedOut:
                logger.warning(
                    "liveness probe did not finish in time; not pinging the systemd watchdog",
                    metadata: ["error": "timed out after \(interval)"])
            case .stillRunning:
                logger.warning(
                    "liveness probe still running since an earlier period; not pinging the systemd watchdog",
                    metadata: ["error": "probe hung"])
            }
            // A late start (a slow period) does not make the next ones late too.
            if next < clock.now { next = clock.now }
            do {
                try await Task.sleep(until: next, clock: clock)
            } catch {
                return
            }
        }
    }
}

enum ProbeOutcome: Sendable {
    case passed
    case failed(any Error)
    case timedOut
    case stillRunning
    case cancelled
}

/// One probe run raced against its timeout; the first of the two to finish decides.
private final class ProbeRun: Sendable {
    private struct State {
        var continuation: CheckedContinuation<ProbeOutcome, Never>?
        var decided: ProbeOutcome?
        var probeFinished = false
    }

    private let state = Mutex(State())
    private let probe: @Sendable () async throws -> Void

    init(_ probe: @escaping @Sendable () async throws -> Void) { self.probe = probe }

    /// Whether the probe's task has returned (even after its timeout).
    var hasFinished: Bool { state.withLock { $0.probeFinished } }

    func outcome(timeout: Duration) async -> ProbeOutcome {
        let probe = self.probe
        var probeTask: Task<Void, Never>?
        var timer: Task<Void, Never>?
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ProbeOutcome, Never>) in
                let early: ProbeOutcome? = state.withLock {
                    if let decided = $0.decided { return decided }
                    $0.continuation = continuation
                    return nil
                }
                if let early {
                    continuation.resume(returning: early)
                    return
                }
                probeTask = Task {
                    let result: ProbeOutcome
                    do {
                        try await probe()
                        result = .passed
                    } catch {
                        result = .failed(error)
                    }
                    self.state.withLock { $0.probeFinished = true }
                    self.decide(result)
                }
                timer = Task {
                    do {
                        try await Task.sleep(for: timeout)
                        self.decide(.timedOut)
                    } catch {}
                }
            }
        } onCancel: {
            self.decide(.cancelled)
        }
        timer?.cancel()
        switch outcome {
        case .timedOut, .cancelled: probeTask?.cancel()
        default: break
        }
        return outcome
    }

    private func decide(_ outcome: ProbeOutcome) {
        let continuation: CheckedContinuation<ProbeOutcome, Never>? = state.withLock { state in
            guard state.decided == nil else { return nil }
            state.decided = outcome
            let waiting = state.continuation
            state.continuation = nil
            return waiting
        }
        continuation?.resume(returning: outcome)
    }
}
