// Process-wide libvirt setup. libvirt's default event loop must be registered before the first
// virConnectOpen and then driven by a thread of its own: keepalive, close callbacks and domain
// events are all dispatched from it.
import CLibvirt
import Foundation

enum LibvirtRuntime {
    private static let started: Bool = {
        _ = virInitialize()
        // Without a handler, libvirt prints every error to stderr; errors reach callers as
        // LibvirtError values instead.
        virSetErrorFunc(nil, silentErrorHandler)
        _ = virEventRegisterDefaultImpl()
        let thread = Thread {
            while true {
                // Returns after one iteration of the loop (fd events or timers dispatched).
                _ = virEventRunDefaultImpl()
            }
        }
        thread.name = "libvirt-events"
        thread.start()
        return true
    }()

    /// Registers libvirt's default event implementation and starts its thread, once per process.
    static func ensureStarted() { _ = started }
}

private func silentErrorHandler(_: UnsafeMutableRawPointer?, _: virErrorPtr?) {}
