import Foundation
import Logging
import ServiceLifecycle

/// Keeps the state store in shape while the agent runs, as a Service of the daemon's group.
///
/// Every `interval` (30 s): stores the events held back while the store could not be written,
/// prunes old events (`[events]` retention), and checkpoints the write-ahead log into
/// `state.sqlite`, so that the database file alone holds the state (a backup that copies it gets
/// everything but the last interval; `sqlite3 state.sqlite .backup` gets everything). Every hour,
/// `PRAGMA quick_check`. While the store cannot be written, or events wait, it looks every
/// second, so that recovery after space returns is noticed at once.
struct StoreMaintenance: Service {
    let store: StateStore
    let events: EventLog
    /// `[events]` retain_count and retention_hours (read at each pass).
    let retention: @Sendable () -> (count: Int, hours: Double)
    let logger: Logger
    var interval: Duration = .seconds(30)
    var checkInterval: Duration = .seconds(3600)

    func run() async {
        await cancelWhenGracefulShutdown {
            var lastPass = ContinuousClock.now - interval
            var lastCheck = ContinuousClock.now
            var wasWritable = store.isWritable
            while !Task.isCancelled {
                let now = ContinuousClock.now
                let troubled = !store.isWritable || events.backlogCount > 0
                if troubled {
                    _ = store.condition()  // probes a write at most once a second
                    events.flush()
                }
                let writable = store.isWritable
                if writable != wasWritable {
                    if writable {
                        logger.notice("the state store takes writes again")
                    } else {
                        logger.error("the state store cannot be written: \(store.condition().message)")
                    }
                    wasWritable = writable
                }
                if now - lastPass >= interval {
                    lastPass = now
                    pass()
                }
                if now - lastCheck >= checkInterval {
                    lastCheck = now
                    check()
                }
                try? await Task.sleep(for: troubled ? .seconds(1) : min(interval, .seconds(5)))
            }
        }
    }

    /// Flush, prune, checkpoint.
    func pass() {
        events.flush()
        let (count, hours) = retention()
        do {
            let pruned = try events.prune(keepNewest: count, olderThan: Date().addingTimeInterval(-hours * 3600))
            if pruned > 0 { logger.debug("pruned \(pruned) old event(s)") }
        } catch {
            logger.warning("cannot prune old events: \(error)")
        }
        do {
            if try !store.checkpoint() { logger.debug("checkpoint postponed: readers were active") }
        } catch {
            logger.warning("cannot checkpoint the state database: \(error)")
        }
    }

    func check() {
        do {
            if let found = try store.quickCheck() {
                logger.critical("the state database is damaged: \(found)")
            }
        } catch {
            logger.error("cannot check the state database: \(error)")
        }
    }
}
