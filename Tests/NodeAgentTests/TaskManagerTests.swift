import Foundation
@testable import NodeAgent
import Synchronization
import TestSupport
import Testing

@Suite("Durable tasks")
struct TaskManagerTests {
    // MARK: Request ids

    @Test func aRepeatedRequestReturnsTheFirstTaskAndRunsOnceAlsoAfterARestart() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let runs = Tally()
            func makeManager(_ store: StateStore) async -> TaskManager {
                let manager = TaskManager(store: store, configuration: .fastForTests, logger: .init(label: "test"))
                await manager.register(kind: "guest.start", queue: "guest", resumable: false) { context in
                    runs.add(context.task.requestID ?? "")
                    return TaskOutcome(result: Data("started".utf8), summary: "guest started")
                }
                return manager
            }
            let first: TaskRecord
            do {
                let manager = await makeManager(try StateStore(directory: directory.path))
                first = try await running(manager) {
                    let submitted = try await manager.submit(
                        kind: "guest.start", target: "g1", requestID: "r1", fingerprint: "f1", input: Data("in".utf8))
                    #expect(!submitted.duplicate)
                    #expect(submitted.record.state == .queued)
                    let done = try await waitFor(manager, submitted.record.id, .succeeded)
                    let again = try await manager.submit(
                        kind: "guest.start", target: "g1", requestID: "r1", fingerprint: "f1", input: Data("in".utf8))
                    #expect(again.duplicate)
                    #expect(again.record == done)
                    #expect(try manager.get(requestID: "r1") == done)
                    return done
                }
            }
            #expect(first.result == Data("started".utf8))
            #expect(first.message == "guest started")
            #expect(first.progress == 1)

            // A new agent over the reopened database.
            let manager = await makeManager(try StateStore(directory: directory.path))
            #expect(try await manager.recover() == RecoveryReport())
            try await running(manager) {
                let again = try await manager.submit(
                    kind: "guest.start", target: "g1", requestID: "r1", fingerprint: "f1", input: Data("in".utf8))
                #expect(again.duplicate)
                #expect(again.record == first)
                let other = try await manager.submit(kind: "guest.start", target: "g1", requestID: "r2", fingerprint: "f1")
                #expect(!other.duplicate)
                _ = try await waitFor(manager, other.record.id, .succeeded)
            }
            #expect(runs.values == ["r1", "r2"])
        }
    }

    @Test func aRequestIDReusedForAnotherRequestOrAnUnknownKindIsRefused() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let manager = TaskManager(store: try StateStore(directory: directory.path), logger: .init(label: "test"))
            await manager.register(kind: "guest.start", queue: "guest", resumable: false) { _ in TaskOutcome(summary: "") }
            await manager.register(kind: "guest.stop", queue: "guest", resumable: false) { _ in TaskOutcome(summary: "") }
            let first = try await manager.submit(kind: "guest.start", target: "g1", requestID: "r1", fingerprint: "f1").record
            await #expect(throws: TaskSubmitError.requestIDReused(requestID: "r1", taskID: first.id, kind: "guest.start")) {
                try await manager.submit(kind: "guest.start", target: "g1", requestID: "r1", fingerprint: "f2")
            }
            await #expect(throws: TaskSubmitError.requestIDReused(requestID: "r1", taskID: first.id, kind: "guest.start")) {
                try await manager.submit(kind: "guest.stop", target: "g1", requestID: "r1", fingerprint: "f1")
            }
            await #expect(throws: TaskSubmitError.unknownKind("guest.explode")) {
                try await manager.submit(kind: "guest.explode", target: "g1", requestID: "r9")
            }
            #expect(try manager.list().map(\.id) == [first.id])
        }
    }

    @Test func concurrentSubmitsOfOneRequestIDMakeOneTask() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            // Two agents' connections to one database race too: the UNIQUE index decides.
            let managers = [
                TaskManager(store: try StateStore(directory: directory.path), logger: .init(label: "test")),
                TaskManager(store: try StateStore(directory: directory.path), logger: .init(label: "test")),
            ]
            for manager in managers {
                await manager.register(kind: "volume.create", queue: "volume", resumable: false) { _ in TaskOutcome(summary: "") }
            }
            let submissions = try await withThrowingTaskGroup(of: Submission.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await managers[index % 2].submit(
                            kind: "volume.create", target: "pool/v1", requestID: "same", fingerprint: "f")
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(submissions.count == 20)
            #expect(Set(submissions.map(\.record.id)).count == 1)
            #expect(submissions.filter { !$0.duplicate }.count == 1)
            #expect(try managers[0].list().count == 1)
        }
    }

    // MARK: Scheduling

    @Test func aQueueRunsAtMostItsLimit() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            var configuration = TaskManager.Configuration.fastForTests
            configuration.queueLimits = ["volume": 2]
            let manager = TaskManager(store: try StateStore(directory: directory.path), configuration: configuration, logger: .init(label: "test"))
            let concurrency = ConcurrencyTracker()
            let turnstile = Turnstile()
            await manager.register(kind: "volume.create", queue: "volume", resumable: false) { _ in
                await concurrency.enter()
                await turnstile.pass()
                await concurrency.leave()
                return TaskOutcome(summary: "created")
            }
            var ids: [String] = []
            for index in 0..<6 {
                ids.append(try await manager.submit(kind: "volume.create", target: "pool/v\(index)").record.id)
            }
            try await running(manager) {
                for finished in 0..<6 {
                    let expected = min(2, 6 - finished)
                    try await waitUntil("\(expected) handlers running", timeout: .seconds(30)) {
                        await concurrency.current >= expected
                    }
                    await turnstile.release()
                }
                for id in ids { _ = try await waitFor(manager, id, .succeeded) }
            }
            #expect(await concurrency.maximum == 2)
        }
    }

    @Test func tasksOfOneTargetRunInOrderOneAtATimeWhileOtherTargetsRunAlongside() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let manager = TaskManager(store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"))
            let log = Tally()
            let otherTargetRan = Gate()
            await manager.register(kind: "guest.update", queue: "guest", resumable: false) { context in
                let name = String(decoding: context.task.input, as: UTF8.self)
                log.add("start \(name)")
                if name == "a1" {
                    // Waits for the task on the other target: it must run alongside.
                    await otherTargetRan.wait()
                } else if name == "b1" {
                    await otherTargetRan.open()
                } else {
                    try await Task.sleep(for: .milliseconds(20))
                }
                log.add("end \(name)")
                return TaskOutcome(summary: name)
            }
            var ids: [String] = []
            for (name, target) in [("a1", "A"), ("a2", "A"), ("b1", "B"), ("a3", "A"), ("a4", "A")] {
                ids.append(try await manager.submit(kind: "guest.update", target: target, input: Data(name.utf8)).record.id)
            }
            let records = try await running(manager) {
                var records: [TaskRecord] = []
                for id in ids { records.append(try await waitFor(manager, id, .succeeded)) }
                return records
            }
            #expect(log.values.filter { $0.hasSuffix("a1") || $0.hasSuffix("a2") || $0.hasSuffix("a3") || $0.hasSuffix("a4") } == [
                "start a1", "end a1", "start a2", "end a2", "start a3", "end a3", "start a4", "end a4",
            ])
            let targetA = records.filter { $0.target == "A" }
            for (earlier, later) in zip(targetA, targetA.dropFirst()) {
                #expect(try #require(earlier.finishedAt) <= #require(later.startedAt))
            }
        }
    }

    // MARK: Failures and retries

    @Test func aTransientFailureIsRetriedWithBackoffUntilMaxAttempts() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let changes = ChangeRecorder()
            let manager = TaskManager(
                store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"),
                onChange: { record, transition in changes.add(record, transition) })
            let runs = Tally()
            await manager.register(kind: "guest.start", queue: "guest", resumable: false) { context in
                runs.add("attempt \(context.attempt)")
                throw AgentError(.unavailable, subject: "g1", operation: "start", message: "libvirt unreachable")
            }
            let id = try await manager.submit(kind: "guest.start", target: "g1").record.id
            let failed = try await running(manager) { try await waitFor(manager, id, .failed) }
            #expect(runs.values == ["attempt 1", "attempt 2", "attempt 3"])
            #expect(failed.attempts == 3)
            #expect(failed.error?.reason == "unavailable")
            #expect(failed.message == "gave up after 3 attempt(s): start g1: libvirt unreachable")
            try await waitUntil("every change delivered") { changes.all.last?.record.state == .failed }
            let transitions = changes.all.filter(\.transition).map(\.record.message)
            #expect(transitions.contains("retrying in 0.01s after attempt 1: start g1: libvirt unreachable"))
            #expect(transitions.contains("retrying in 0.02s after attempt 2: start g1: libvirt unreachable"))
            #expect(changes.all.map(\.record.state) == [.queued, .running, .running, .running, .running, .running, .failed])
            #expect(TaskManager.Configuration.fastForTests.retryDelay(after: 5) == .milliseconds(40))
        }
    }

    @Test func aTaskSucceedsAfterOneTransientFailure() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let manager = TaskManager(store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"))
            await manager.register(kind: "volume.create", queue: "volume", resumable: false) { context in
                if context.attempt == 1 {
                    throw AgentError(.unavailable, subject: "pool/v1", operation: "create", message: "libvirt unreachable")
                }
                return TaskOutcome(result: Data([1, 2, 3]), summary: "created on attempt \(context.attempt)")
            }
            let id = try await manager.submit(kind: "volume.create", target: "pool/v1").record.id
            let done = try await running(manager) { try await waitFor(manager, id, .succeeded) }
            #expect(done.attempts == 2)
            #expect(done.message == "created on attempt 2")
            #expect(done.result == Data([1, 2, 3]))
            #expect(done.error == nil)
        }
    }

    @Test func otherFailuresEndTheTaskAtOnceWithTheirReason() async throws {
        struct Unexpected: Error {}
        try await withTemporaryDirectory("tasks") { directory in
            let manager = TaskManager(store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"))
            let notFound = AgentError(.notFound, subject: "g1", operation: "start", message: "no such guest")
            let errors: [String: any Error & Sendable] = [
                "agent": notFound,
                "task": TaskFailure(reason: "refused", message: "the guest is protected"),
                "other": Unexpected(),
            ]
            await manager.register(kind: "guest.start", queue: "guest", resumable: false) { context in
                throw errors[context.task.target] ?? Unexpected()
            }
            var ids: [String: String] = [:]
            for target in errors.keys {
                ids[target] = try await manager.submit(kind: "guest.start", target: target).record.id
            }
            var failures: [String: TaskRecord] = [:]
            try await running(manager) {
                for (target, id) in ids { failures[target] = try await waitFor(manager, id, .failed) }
            }
            #expect(failures.values.allSatisfy { $0.attempts == 1 })
            #expect(failures["agent"]?.error == TaskFailure(reason: "not-found", message: notFound.description))
            #expect(failures["task"]?.error == TaskFailure(reason: "refused", message: "the guest is protected"))
            #expect(failures["other"]?.error?.reason == "internal")
            #expect(failures["other"]?.message == "Unexpected()")
        }
    }

    // MARK: Cancelling

    @Test func cancellingAQueuedTaskEndsItAtOnceAndItNeverRuns() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let manager = TaskManager(store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"))
            let runs = Tally()
            await manager.register(kind: "guest.start", queue: "guest", resumable: false) { context in
                runs.add(context.task.target)
                return TaskOutcome(summary: "started")
            }
            let queued = try await manager.submit(kind: "guest.start", target: "g1").record
            let cancelled = try await manager.cancel(queued.id, requestedBy: "admin")
            #expect(cancelled.state == .cancelled)
            #expect(cancelled.error?.reason == "cancelled")
            #expect(cancelled.message.hasPrefix("cancelled while queued by admin at "))
            #expect(try manager.get(queued.id) == cancelled)
            await #expect(throws: TaskCancelError.alreadyTerminal(cancelled)) { try await manager.cancel(queued.id) }
            await #expect(throws: TaskCancelError.notFound("nope")) { try await manager.cancel("nope") }

            try await running(manager) {
                let other = try await manager.submit(kind: "guest.start", target: "g2").record
                _ = try await waitFor(manager, other.id, .succeeded)
            }
            #expect(runs.values == ["g2"])
            #expect(try manager.get(queued.id)?.state == .cancelled)
        }
    }

    @Test func cancellingARunningTaskCancelsItsHandler() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let manager = TaskManager(store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"))
            let observed = Tally()
            await manager.register(kind: "burnin.run", queue: "burnin", resumable: true) { context in
                await context.progress(0.1, "probing")
                do {
                    while true {
                        try Task.checkCancellation()
                        try await Task.sleep(for: .milliseconds(5))
                    }
                } catch {
                    observed.add("\(type(of: error))")
                    throw error
                }
            }
            let id = try await manager.submit(kind: "burnin.run", target: "host").record.id
            let cancelled = try await running(manager) {
                try await waitUntil("handler running") { try manager.get(id)?.message == "probing" }
                let answer = try await manager.cancel(id, requestedBy: "operator")
                #expect(answer.state == .running)
                #expect(answer.message.hasPrefix("cancelling: requested by operator at "))
                return try await waitFor(manager, id, .cancelled)
            }
            #expect(observed.values == ["CancellationError"])
            #expect(cancelled.error?.reason == "cancelled")
            #expect(cancelled.message.hasPrefix("cancelled by operator at "))
            #expect(cancelled.message.hasSuffix("during attempt 1, started at \(try #require(cancelled.startedAt).ISO8601Format())"))
        }
    }

    // MARK: Watching

    @Test func watchYieldsEveryChangeThenTheTerminalRecordAndFinishes() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let manager = TaskManager(store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"))
            let proceed = Gate()
            await manager.register(kind: "volume.create", queue: "volume", resumable: false) { context in
                await context.progress(0.25, "allocating")
                await context.progress(0.5, "formatting")
                await proceed.wait()
                return TaskOutcome(result: Data("v1".utf8), summary: "created")
            }
            #expect(try await manager.watch("no-such-task") == nil)
            let id = try await manager.submit(kind: "volume.create", target: "pool/v1").record.id
            let stream = try #require(try await manager.watch(id))
            let watcher = Task {
                var seen: [TaskRecord] = []
                for await record in stream { seen.append(record) }
                return seen
            }
            let seen = try await running(manager) {
                try await waitUntil("progress 0.5") { try manager.get(id)?.progress == 0.5 }
                await proceed.open()
                return await watcher.value
            }
            #expect(seen.map(\.state) == [.queued, .running, .running, .running, .succeeded])
            #expect(seen.map(\.progress) == [0, 0, 0.25, 0.5, 1])
            #expect(seen.map(\.message) == ["queued", "running (attempt 1)", "allocating", "formatting", "created"])
            #expect(seen.last == (try manager.get(id)))
            #expect(await manager.watchers.isEmpty)

            // A finished task: its record, then the end.
            let again = try #require(try await manager.watch(id))
            var records: [TaskRecord] = []
            for await record in again { records.append(record) }
            #expect(records == [try #require(try manager.get(id))])
        }
    }

    @Test func aWatcherThatStopsEarlyIsForgotten() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let manager = TaskManager(store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"))
            await manager.register(kind: "guest.start", queue: "guest", resumable: false) { _ in TaskOutcome(summary: "") }
            let id = try await manager.submit(kind: "guest.start", target: "g1").record.id
            do {
                let stream = try #require(try await manager.watch(id))
                for await record in stream {
                    #expect(record.state == .queued)
                    break
                }
            }
            try await waitUntil("watcher removed") { await manager.watchers.isEmpty }
        }
    }

    // MARK: Restart and shutdown

    @Test func recoverySettlesWhatAVanishedAgentLeftRunningOrQueued() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            // The first agent: its handlers block until cancelled, and it is never drained
            // before the second agent takes over the database (as after a crash).
            var configuration = TaskManager.Configuration.fastForTests
            configuration.drainTimeout = .milliseconds(10)
            let crashed = TaskManager(
                store: try StateStore(directory: directory.path), configuration: configuration, logger: .init(label: "crashed"))
            for (kind, queue, resumable) in [("guest.start", "guest", false), ("volume.resize", "volume", true)] {
                await crashed.register(kind: kind, queue: queue, resumable: resumable) { _ in
                    try await Task.sleep(for: .seconds(3600))
                    return TaskOutcome(summary: "never")
                }
            }
            let unsafe = try await crashed.submit(kind: "guest.start", target: "g1").record.id
            let resumable = try await crashed.submit(kind: "volume.resize", target: "pool/v1").record.id
            let queued = try await crashed.submit(kind: "guest.start", target: "g1").record.id
            let crashedRun = Task { await crashed.run() }
            let interrupted = try await waitFor(crashed, unsafe, .running)
            _ = try await waitFor(crashed, resumable, .running)
            #expect(try crashed.get(queued)?.state == .queued)

            let runs = Tally()
            let proceed = Gate()
            let manager = TaskManager(
                store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"))
            for (kind, queue, resumable) in [("guest.start", "guest", false), ("volume.resize", "volume", true)] {
                await manager.register(kind: kind, queue: queue, resumable: resumable) { context in
                    runs.add(context.task.id)
                    if resumable { await proceed.wait() }
                    return TaskOutcome(summary: "done on attempt \(context.attempt)")
                }
            }
            let report = try await manager.recover()
            #expect(report.failed == [unsafe])
            #expect(report.requeued == [resumable])
            #expect(report.resumed == [queued])

            let failed = try #require(try manager.get(unsafe))
            #expect(failed.state == .failed)
            #expect(failed.error?.reason == "agent-restarted")
            #expect(
                failed.message == "the agent restarted while the task was running (attempt 1, started at "
                    + "\(try #require(interrupted.startedAt).ISO8601Format())); it was not repeated because guest.start "
                    + "is not safe to repeat; check g1 and retry with a new request_id")
            #expect(try manager.get(resumable)?.state == .queued)
            #expect(try manager.get(queued)?.message == "resumed after agent restart")

            let (resumed, ran) = try await running(manager) {
                let ran = try await waitFor(manager, queued, .succeeded)
                let rerun = try await waitFor(manager, resumable, .running)
                // The vanished agent's late outcomes (its handlers are cancelled now) never
                // overwrite what the new one recorded, even while it runs the same task again.
                crashedRun.cancel()
                await crashedRun.value
                #expect(try manager.get(unsafe) == failed)
                #expect(try manager.get(resumable) == rerun)
                await proceed.open()
                return (try await waitFor(manager, resumable, .succeeded), ran)
            }
            #expect(resumed.attempts == 2)
            #expect(resumed.message == "done on attempt 2")
            #expect(ran.attempts == 1)
            #expect(Set(runs.values) == [resumable, queued])
        }
    }

    @Test func shutdownCancelsWhatOutlivesTheDrainAndPersistsEveryTask() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            var configuration = TaskManager.Configuration.fastForTests
            configuration.drainTimeout = .milliseconds(50)
            let manager = TaskManager(
                store: try StateStore(directory: directory.path), configuration: configuration, logger: .init(label: "test"))
            let interrupted = Tally()
            for (kind, queue, resumable) in [("guest.migrate", "guest", false), ("burnin.run", "burnin", true)] {
                await manager.register(kind: kind, queue: queue, resumable: resumable) { context in
                    do {
                        try await Task.sleep(for: .seconds(3600))
                    } catch {
                        interrupted.add(context.task.kind)
                        throw error
                    }
                    return TaskOutcome(summary: "never")
                }
            }
            let unsafe = try await manager.submit(kind: "guest.migrate", target: "g1").record.id
            let resumable = try await manager.submit(kind: "burnin.run", target: "host").record.id
            let queued = try await manager.submit(kind: "guest.migrate", target: "g1").record.id
            let run = Task { await manager.run() }
            let started = try await waitFor(manager, unsafe, .running)
            _ = try await waitFor(manager, resumable, .running)
            run.cancel()
            await run.value

            #expect(Set(interrupted.values) == ["guest.migrate", "burnin.run"])
            let stopped = try #require(try manager.get(unsafe))
            #expect(stopped.state == .failed)
            #expect(stopped.error?.reason == "agent-stopped")
            #expect(
                stopped.message == "the agent stopped while the task was running (attempt 1, started at "
                    + "\(try #require(started.startedAt).ISO8601Format())); it was not repeated because guest.migrate "
                    + "is not safe to repeat; check g1 and retry with a new request_id")
            let requeued = try #require(try manager.get(resumable))
            #expect(requeued.state == .queued)
            #expect(requeued.message.hasPrefix("interrupted by the agent's shutdown during attempt 1"))
            #expect(try manager.get(queued)?.state == .queued)
            #expect(try manager.counts().queued == 2)
            #expect(try manager.counts().running == 0)

            // The next agent resumes both queued tasks.
            let next = TaskManager(store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"))
            for (kind, queue) in [("guest.migrate", "guest"), ("burnin.run", "burnin")] {
                await next.register(kind: kind, queue: queue, resumable: true) { _ in TaskOutcome(summary: "done") }
            }
            let report = try await next.recover()
            #expect(report.resumed == [resumable, queued])
            try await running(next) {
                _ = try await waitFor(next, resumable, .succeeded)
                _ = try await waitFor(next, queued, .succeeded)
            }
        }
    }

    @Test func shutdownLetsARunningTaskFinishWithinTheDrainTimeout() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let manager = TaskManager(store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"))
            let proceed = Gate()
            await manager.register(kind: "guest.stop", queue: "guest", resumable: false) { _ in
                // Ignores cancellation: only the gate ends it.
                await proceed.wait()
                return TaskOutcome(summary: "stopped")
            }
            let id = try await manager.submit(kind: "guest.stop", target: "g1").record.id
            let waiting = try await manager.submit(kind: "guest.stop", target: "g1").record.id
            let run = Task { await manager.run() }
            _ = try await waitFor(manager, id, .running)
            run.cancel()
            try await waitUntil("draining") { await manager.phase == .stopping }
            await proceed.open()
            await run.value
            #expect(try manager.get(id)?.state == .succeeded)
            #expect(try manager.get(waiting)?.state == .queued)
        }
    }

    @Test func aHandlerThatIgnoresCancellationIsRecordedAsInterruptedAnyway() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            var configuration = TaskManager.Configuration.fastForTests
            configuration.drainTimeout = .milliseconds(10)
            configuration.cancelGrace = .milliseconds(10)
            let manager = TaskManager(
                store: try StateStore(directory: directory.path), configuration: configuration, logger: .init(label: "test"))
            let proceed = Gate()
            let returned = Tally()
            await manager.register(kind: "guest.define", queue: "guest", resumable: false) { _ in
                await proceed.wait()
                returned.add("late")
                return TaskOutcome(summary: "defined late")
            }
            let id = try await manager.submit(kind: "guest.define", target: "g1").record.id
            let run = Task { await manager.run() }
            _ = try await waitFor(manager, id, .running)
            run.cancel()
            await run.value
            let stopped = try #require(try manager.get(id))
            #expect(stopped.state == .failed)
            #expect(stopped.error?.reason == "agent-stopped")
            // The handler's late result is discarded.
            await proceed.open()
            try await waitUntil("the handler returned") { returned.values == ["late"] }
            try await waitUntil("its outcome was processed") { await manager.running.isEmpty }
            #expect(try manager.get(id) == stopped)
        }
    }

    // MARK: Change notifications

    @Test func aSlowOnChangeHoldsUpNeitherWorkersNorOtherTasks() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let slowListener = Gate()
            let changes = ChangeRecorder()
            let manager = TaskManager(
                store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"),
                onChange: { record, transition in
                    if record.target == "slow" { await slowListener.wait() }
                    changes.add(record, transition)
                })
            await manager.register(kind: "guest.start", queue: "guest", resumable: false) { context in
                await context.progress(0.5, "half way")
                return TaskOutcome(summary: "started")
            }
            let slow = try await manager.submit(kind: "guest.start", target: "slow").record.id
            let fast = try await manager.submit(kind: "guest.start", target: "fast").record.id
            try await running(manager) {
                _ = try await waitFor(manager, slow, .succeeded)
                _ = try await waitFor(manager, fast, .succeeded)
                try await waitUntil("the other task's changes delivered") {
                    changes.all.last { $0.record.id == fast }?.record.state == .succeeded
                }
                #expect(!changes.all.contains { $0.record.id == slow })
                await slowListener.open()
                try await waitUntil("the slow listener caught up") {
                    changes.all.last { $0.record.id == slow }?.record.state == .succeeded
                }
            }
            for id in [slow, fast] {
                let delivered = changes.all.filter { $0.record.id == id }
                #expect(delivered.map(\.record.message) == ["queued", "running (attempt 1)", "half way", "started"])
                #expect(delivered.map(\.transition) == [true, true, false, true])
            }
        }
    }

    // MARK: Retention

    @Test func pruningRemovesOnlyFinishedTasksOlderThanTheCutoff() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            var configuration = TaskManager.Configuration.fastForTests
            configuration.drainTimeout = .milliseconds(10)
            let manager = TaskManager(store: try StateStore(directory: directory.path), configuration: configuration, logger: .init(label: "test"))
            await manager.register(kind: "guest.start", queue: "guest", resumable: false) { _ in TaskOutcome(summary: "") }
            await manager.register(kind: "burnin.run", queue: "burnin", resumable: true) { _ in
                try await Task.sleep(for: .seconds(3600))
                return TaskOutcome(summary: "never")
            }
            let busy = try await running(manager) {
                let old = try await manager.submit(kind: "guest.start", target: "g1").record.id
                let oldFinished = try #require(try await waitFor(manager, old, .succeeded).finishedAt)
                try await waitUntil("the clock passed the first task's end", poll: .milliseconds(2)) { StoredTime.now() > oldFinished }
                let cutoff = StoredTime.now()
                let recent = try await manager.submit(kind: "guest.start", target: "g1").record.id
                _ = try await waitFor(manager, recent, .succeeded)
                let blocked = try await manager.submit(kind: "burnin.run", target: "host").record.id
                _ = try await waitFor(manager, blocked, .running)

                #expect(try await manager.prune(olderThan: cutoff) == 1)
                #expect(try manager.get(old) == nil)
                #expect(try manager.get(recent) != nil)
                #expect(try await manager.prune(olderThan: Date().addingTimeInterval(3600)) == 1)
                #expect(try manager.list().map(\.id) == [blocked])
                return blocked
            }
            // The shutdown requeued the running task (burnin is resumable); pruning never touches it.
            #expect(try await manager.prune(olderThan: Date().addingTimeInterval(3600)) == 0)
            #expect(try manager.list(states: [.queued]).map(\.id) == [busy])
        }
    }

    @Test func runPrunesExpiredTasksAtStart() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let store = try StateStore(directory: directory.path)
            let first = TaskManager(store: store, configuration: .fastForTests, logger: .init(label: "test"))
            await first.register(kind: "guest.start", queue: "guest", resumable: false) { _ in TaskOutcome(summary: "") }
            let id = try await first.submit(kind: "guest.start", target: "g1").record.id
            try await running(first) { _ = try await waitFor(first, id, .succeeded) }
            let queued = try await first.submit(kind: "guest.start", target: "g2").record.id

            var configuration = TaskManager.Configuration.fastForTests
            configuration.retention = .zero
            let pruning = TaskManager(store: store, configuration: configuration, logger: .init(label: "test"))
            try await running(pruning) {
                try await waitUntil("expired task pruned") { try pruning.get(id) == nil }
            }
            #expect(try pruning.get(queued)?.state == .queued)
        }
    }

    // MARK: Listing

    @Test func listFiltersByStateKindPrefixAndTargetNewestFirst() async throws {
        try await withTemporaryDirectory("tasks") { directory in
            let manager = TaskManager(store: try StateStore(directory: directory.path), configuration: .fastForTests, logger: .init(label: "test"))
            for kind in ["guest.start", "guest.stop", "volume.create", "guestx.odd"] {
                await manager.register(kind: kind, queue: "guest", resumable: false) { _ in TaskOutcome(summary: "") }
            }
            let a = try await manager.submit(kind: "guest.start", target: "g1").record.id
            let b = try await manager.submit(kind: "guest.stop", target: "g2").record.id
            let c = try await manager.submit(kind: "volume.create", target: "pool/v").record.id
            let d = try await manager.submit(kind: "guestx.odd", target: "g1").record.id
            _ = try await manager.cancel(b)
            #expect(try manager.list().map(\.id) == [d, c, b, a])
            #expect(try manager.list(kinds: ["guest."]).map(\.id) == [b, a])
            #expect(try manager.list(kinds: ["guest.start", "volume.create"]).map(\.id) == [c, a])
            #expect(try manager.list(kinds: []).isEmpty)
            #expect(try manager.list(states: [.cancelled]).map(\.id) == [b])
            #expect(try manager.list(states: [.queued], target: "g1").map(\.id) == [d, a])
            #expect(try manager.list(limit: 2).map(\.id) == [d, c])
            #expect(try manager.counts().queued == 3)
            #expect(try manager.counts().running == 0)
        }
    }
}

// MARK: Helpers

extension TaskManager.Configuration {
    /// Short retry delays for tests.
    fileprivate static let fastForTests = TaskManager.Configuration(
        maxAttempts: 3, retryBaseDelay: .milliseconds(10), retryMaxDelay: .milliseconds(40), drainTimeout: .seconds(30),
        cancelGrace: .seconds(30))
}

extension TaskManagerTests {
    /// Runs `manager` while `body` runs, then shuts it down (draining) and waits for that.
    private func running<T>(_ manager: TaskManager, _ body: () async throws -> T) async throws -> T {
        let run = Task { await manager.run() }
        return try await withCleanup(body) {
            run.cancel()
            await run.value
        }
    }

    /// Waits until the task is in `state`; returns its record.
    @discardableResult
    private func waitFor(_ manager: TaskManager, _ id: String, _ state: TaskState) async throws -> TaskRecord {
        try await eventually("task \(id) \(state.rawValue)", timeout: .seconds(30), poll: .milliseconds(10)) {
            try manager.get(id).flatMap { $0.state == state ? $0 : nil }
        }
    }

    /// Strings recorded from handlers, in order.
    private final class Tally: Sendable {
        private let items = Mutex<[String]>([])
        func add(_ value: String) { items.withLock { $0.append(value) } }
        var values: [String] { items.withLock { $0 } }
    }

    /// Every `onChange` call.
    private final class ChangeRecorder: Sendable {
        private let items = Mutex<[(record: TaskRecord, transition: Bool)]>([])
        func add(_ record: TaskRecord, _ transition: Bool) { items.withLock { $0.append((record, transition)) } }
        var all: [(record: TaskRecord, transition: Bool)] { items.withLock { $0 } }
    }

    /// How many handlers run at once, and the most seen.
    private actor ConcurrencyTracker {
        private(set) var current = 0
        private(set) var maximum = 0
        func enter() {
            current += 1
            maximum = max(maximum, current)
        }
        func leave() { current -= 1 }
    }

    /// Lets one waiter through per `release()` (releases may come first).
    private actor Turnstile {
        private var permits = 0
        private var waiters: [CheckedContinuation<Void, Never>] = []
        func pass() async {
            if permits > 0 {
                permits -= 1
                return
            }
            await withCheckedContinuation { waiters.append($0) }
        }
        func release() {
            if waiters.isEmpty { permits += 1 } else { waiters.removeFirst().resume() }
        }
    }

    /// Closed until `open()`; then every waiter, earlier or later, passes. Ignores cancellation.
    private actor Gate {
        private var isOpen = false
        private var waiters: [CheckedContinuation<Void, Never>] = []
        func wait() async {
            if isOpen { return }
            await withCheckedContinuation { waiters.append($0) }
        }
        func open() {
            isOpen = true
            for waiter in waiters { waiter.resume() }
            waiters = []
        }
    }
}
