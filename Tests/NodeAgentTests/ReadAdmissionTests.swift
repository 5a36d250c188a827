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

    @Test func noMoreThanTheLimitRunAndTheRestGoInArrivalOrder() async throws {
        let gate = ReadAdmission(limit: 3)
        let probe = Probe()
        let release = AsyncStream<Void>.makeStream()
        // Three hold the slots until released.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<3 {
                group.addTask {
                    try await gate.run {
                        probe.start(index)
                        for await _ in release.stream { break }
                        probe.end()
                    }
                }
            }
            while gate.counts.running < 3 { await Task.yield() }
            // Then ten more queue, one at a time so their arrival order is known.
            for index in 3..<13 {
                group.addTask {
                    try await gate.run {
                        probe.start(index)
                        probe.end()
                    }
                }
                while gate.counts.waiting < index - 2 { await Task.yield() }
            }
            #expect(gate.counts == (3, 10))
            for _ in 0..<3 { release.continuation.yield() }
            release.continuation.finish()
            try await group.waitForAll()
        }
        #expect(probe.peak <= 3)
        #expect(Array(probe.order.dropFirst(3)) == Array(3..<13))
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

    @Test func onlyGetAndListCallsAreHeld() {
        func held(_ service: String, _ method: String) -> Bool {
            ReadAdmission.holds(MethodDescriptor(fullyQualifiedService: "nodeagent.v1." + service, method: method))
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
