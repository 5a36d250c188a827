import Foundation
import GRPCCore
import Synchronization

/// Lets a bounded number of read calls (every unary method named Get… or List…) run at once;
/// the others wait their turn, first come first served, suspended and costing nothing.
///
/// Why: the agent's handlers run on Swift's cooperative pool, one thread per core, whose queue
/// serves ready work in order. With hundreds of reads in flight on two cores that queue is
/// hundreds deep, and a write, which goes through it at each of its half-dozen steps (the
/// request-id lookup, the guest lookup in libvirt, the task insert), waited behind all of them
/// at every step: 200 callers on one connection gave writes a p99 of 426 ms. With the reads
/// held here, the queue stays short, the reads' own latency is unchanged (they wait here
/// instead), and mutations, streams (Watch) and cancellations never wait at this gate.
///
/// Two gates, so that reads stuck on one backend never hold the turns of reads of the other:
/// reads that go to libvirt (Guests, Volumes, Node: a sick guest's or a hung libvirtd's calls
/// wait up to `libvirt.call_timeout`) and reads of the agent's own state (Tasks, CGroups,
/// BurnIn reports).
final class ReadAdmission: Sendable {
    /// Reads in progress at once per gate: four per core (a read also waits for libvirt's queue
    /// or the state store, time in which another can use the core).
    static let libvirt = ReadAdmission(limit: max(4, 4 * ProcessInfo.processInfo.activeProcessorCount))
    static let local = ReadAdmission(limit: max(4, 4 * ProcessInfo.processInfo.activeProcessorCount))

    /// The gate a method passes: nil for every call but unary Get… and List….
    static func gate(for method: MethodDescriptor) -> ReadAdmission? {
        guard holds(method) else { return nil }
        switch method.service.fullyQualifiedService {
        case "nodeagent.v1.Guests", "nodeagent.v1.Volumes", "nodeagent.v1.Node": return libvirt
        default: return local
        }
    }

    let limit: Int
    private struct State {
        var running = 0
        var nextTicket = 0
        /// Waiting calls in arrival order (a ticket keeps its place if an earlier one is cancelled).
        var waiting: [(ticket: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    }
    private let state = Mutex(State())

    /// Called when a call found no free slot, before it queues (tests: to give every slot back
    /// in that moment).
    let beforeQueueing: (@Sendable () -> Void)?

    init(limit: Int, beforeQueueing: (@Sendable () -> Void)? = nil) {
        self.limit = max(1, limit)
        self.beforeQueueing = beforeQueueing
    }

    /// Whether a method is a read this gate holds: unary Get… and List… calls.
    static func holds(_ method: MethodDescriptor) -> Bool {
        method.method.hasPrefix("Get") || method.method.hasPrefix("List")
    }

    /// Runs `body` once fewer than `limit` reads run. A call cancelled while it waits (its client
    /// gave up) leaves the queue and throws CancellationError without running.
    func run<T>(_ body: () async throws -> T) async throws -> T {
        try await enter()
        defer { leave() }
        return try await body()
    }

    private func enter() async throws {
        // The fast path: a free slot and nobody waiting.
        let admitted = state.withLock { state in
            guard state.running < limit && state.waiting.isEmpty else { return false }
            state.running += 1
            return true
        }
        if admitted { return }
        beforeQueueing?()
        let ticket = state.withLock { state in
            state.nextTicket += 1
            return state.nextTicket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Decided again under the same lock as the queueing: the slots may all have been
                // given back since the fast path looked (then nobody would ever wake this call).
                enum Outcome { case admitted, queued, cancelled }
                let outcome = state.withLock { state -> Outcome in
                    // Cancelled before it could queue: the handler below found nothing to remove.
                    if Task.isCancelled { return .cancelled }
                    if state.running < limit && state.waiting.isEmpty {
                        state.running += 1
                        return .admitted
                    }
                    state.waiting.append((ticket, continuation))
                    return .queued
                }
                switch outcome {
                case .admitted: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .queued: break
                }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiting.firstIndex(where: { $0.ticket == ticket }) else { return nil }
                return state.waiting.remove(at: index).continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    private func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard !state.waiting.isEmpty else {
                state.running -= 1
                return nil
            }
            // The slot passes straight to the first in line.
            return state.waiting.removeFirst().continuation
        }
        next?.resume()
    }

    /// Calls running and waiting now (for tests).
    var counts: (running: Int, waiting: Int) {
        state.withLock { ($0.running, $0.waiting.count) }
    }
}

/// Puts every read call through its gate (`ReadAdmission.gate(for:)`).
struct ReadAdmissionInterceptor: ServerInterceptor {
    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        guard let gate = ReadAdmission.gate(for: context.descriptor) else { return try await next(request, context) }
        do {
            return try await gate.run { try await next(request, context) }
        } catch is CancellationError {
            throw RPCError(code: .cancelled, message: "the call was cancelled while it waited for its turn")
        }
    }
}
