import Foundation
import GRPCCore
import Synchronization
import Testing

@testable import NodeAgent

/// The gate that keeps read calls from flooding the cooperative pool (so writes are not queued
/// behind hundreds of them at every step): at most `limit` run, the rest wait first come first
/// served, a cancelled waiter leaves without running, and only Get… and List… calls are held.
@Suite("read admission")
struct ReadAdmissionTests {
    /// Counts what runs at once and in which order calls started.
    final class Probe: Sendable {
        private let state = Mutex((running: 0, peak: 0, order: [Int]()))
        func start(_ index: Int) { state.withLock { $0.running += 1; $0.peak = max($0.peak, $0.running); $0.order.append(index) } }
        func end() { state.withLock { $0.running -= 1 } }
        var peak: Int { state.withLock { $0.peak } }
        var order: [Int] { state.withLock { $0.order } }
    }

    final class Counter: Sendable {
        private let count = Mutex(0)
        func add() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    @Test func waitingCallsGoInArrivalOrder() async throws {
        // One slot, so the calls run one after another in the order the gate admits them.
        let gate = ReadAdmission(limit: 1)
        let probe = Probe()
        let release = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await gate.run {
                    probe.start(0)
                    for await _ in release.stream { break }
                    probe.end()
                }
            }
            while gate.counts.running < 1 { await Task.yield() }
            // Ten more queue, one at a time so their arrival order is known.
            for index in 1...10 {
                group.addTask {
                    try await gate.run {
                        probe.start(index)
                        probe.end()
                    }
                }
                while gate.counts.waiting < index { await Task.yield() }
            }
            #expect(gate.counts == (1, 10))
            release.continuation.finish()
            try await group.waitForAll()
        }
        #expect(probe.peak == 1)
        #expect(probe.order == Array(0...10))
        #expect(gate.counts == (0, 0))
    }

    /// Many callers through a gate of two slots, as fast as they can: every call gets its turn.
    /// The first version decided to wait and queued under two separate locks, and when every
    /// slot was given back in between, the call waited for good and every read after it (the
    /// RPC benchmark's agent stopped answering reads after some 20,000 calls).
    @Test func noCallIsLeftWaitingWhenSlotsFreeUpWhileItQueues() async throws {
        let gate = ReadAdmission(limit: 2)
        let probe = Probe()
        let completed = Counter()
        let work = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<64 {
                    group.addTask {
                        for _ in 0..<500 {
                            try await gate.run {
                                probe.start(0)
                                await Task.yield()
                                probe.end()
                            }
                            completed.add()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while completed.value < 64 * 500 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let done = completed.value
        #expect(done == 64 * 500, "\(done) of \(64 * 500) calls completed; the gate holds \(gate.counts)")
        #expect(probe.peak <= 2)
        work.cancel()
        _ = try? await work.value
    }

    /// The moment of that race made certain: the one slot is given back after a call found it
    /// taken and before it queued. The call must still run.
    @Test func aSlotGivenBackWhileACallQueuesIsTaken() async throws {
        let release = AsyncStream<Void>.makeStream()
        let gateBox = Mutex<ReadAdmission?>(nil)
        let gate = ReadAdmission(limit: 1) {
            release.continuation.finish()
            // The holder leaves on the pool's other thread.
            let deadline = ContinuousClock.now + .seconds(10)
            while gateBox.withLock({ $0?.counts.running ?? 0 }) > 0 && ContinuousClock.now < deadline { usleep(1000) }
        }
        gateBox.withLock { $0 = gate }
        let holder = Task { try await gate.run { for await _ in release.stream { break } } }
        while gate.counts.running < 1 { await Task.yield() }
        let ran = Counter()
        let caller = Task { try await gate.run { ran.add() } }
        let deadline = ContinuousClock.now + .seconds(60)
        while ran.value == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(ran.value == 1, "the call was left waiting: \(gate.counts)")
        caller.cancel()
        _ = try? await caller.value
        try await holder.value
        #expect(gate.counts == (0, 0))
    }

    @Test func aCancelledWaiterLeavesTheQueueWithoutRunning() async throws {
        let gate = ReadAdmission(limit: 1)
        let probe = Probe()
        let release = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await gate.run {
                for await _ in release.stream { break }
            }
        }
        while gate.counts.running < 1 { await Task.yield() }
        let waiter = Task { try await gate.run { probe.start(1) } }
        while gate.counts.waiting < 1 { await Task.yield() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(gate.counts == (1, 0))
        release.continuation.finish()
        try await holder.value
        #expect(probe.order.isEmpty)
        #expect(gate.counts == (0, 0))
        // The slot is free again.
        try await gate.run { probe.start(2) }
        #expect(probe.order == [2])
    }

    @Test func onlyGetAndListCallsAreHeldAndLibvirtReadsApart() {
        func gate(_ service: String, _ method: String) -> ReadAdmission? {
            ReadAdmission.gate(for: MethodDescriptor(fullyQualifiedService: "nodeagent.v1." + service, method: method))
        }
        func held(_ service: String, _ method: String) -> Bool { gate(service, method) != nil }
        // Reads stuck on libvirt never hold the turns of reads of the agent's own state.
        for (service, method) in [("Node", "GetHealth"), ("Node", "GetInfo"), ("Guests", "Get"), ("Guests", "List"), ("Volumes", "List"), ("Volumes", "ListPools")] {
            #expect(gate(service, method) === ReadAdmission.libvirt, "\(service).\(method)")
        }
        for (service, method) in [("Tasks", "Get"), ("Tasks", "List"), ("CGroups", "Get"), ("CGroups", "List"), ("BurnIn", "GetReport")] {
            #expect(gate(service, method) === ReadAdmission.local, "\(service).\(method)")
        }
        for (service, method) in [
            ("Node", "GetHealth"), ("Node", "GetInfo"), ("Guests", "Get"), ("Guests", "List"), ("Tasks", "Get"),
            ("Tasks", "List"), ("Volumes", "List"), ("Volumes", "ListPools"), ("CGroups", "Get"), ("CGroups", "List"),
            ("BurnIn", "GetReport"),
        ] {
            #expect(held(service, method), "\(service).\(method)")
        }
        for (service, method) in [
            ("Guests", "Define"), ("Guests", "Start"), ("Guests", "SetProtection"), ("Guests", "Undefine"), ("Tasks", "Watch"),
            ("Tasks", "Cancel"), ("Events", "Watch"), ("Volumes", "Create"), ("CGroups", "SetLimits"), ("BurnIn", "Start"),
        ] {
            #expect(!held(service, method), "\(service).\(method)")
        }
    }
}
