import CIOUring
import Probes
import Testing

@Suite("Probes module")
struct ProbesModuleTests {
    @Test func ioUringIsLinkedAndUsableHere() {
        #expect(ciouring_available() == 1, "io_uring_queue_init failed: the disk probe would fall back")
    }
}
