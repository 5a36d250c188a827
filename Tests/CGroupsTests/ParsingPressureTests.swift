import CGroups
import Testing

@Suite("PSI pressure files")
struct ParsingPressureTests {
    @Test("a loaded group's cpu.pressure from the 6.1 guest")
    func guestCPU() throws {
        let pressure = try Pressure(parsing: try KernelFixture.guest("work/job/cpu.pressure"), file: "cpu.pressure")
        #expect(pressure.some == Pressure.Line(avg10: 30.29, avg60: 8.21, avg300: 1.84, total: 5_570_701))
        #expect(pressure.full == Pressure.Line(avg10: 29.78, avg60: 8.07, avg300: 1.80, total: 5_489_675))
    }

    @Test(
        "memory and io pressure of the guest group",
        arguments: [
            ("work/job/memory.pressure", 10.26, 1_493_676 as UInt64), ("work/job/io.pressure", 14.63, 4_409_216),
        ])
    func guestMemoryIO(path: String, avg10: Double, total: UInt64) throws {
        let pressure = try Pressure(parsing: try KernelFixture.guest(path), file: "x.pressure")
        #expect(pressure.some?.avg10 == avg10)
        #expect(pressure.full?.total == total)
    }

    @Test("the build host's root pressure files (kernel 6.18)")
    func host() throws {
        let cpu = try Pressure(parsing: try KernelFixture.host("cpu.pressure"), file: "cpu.pressure")
        #expect(cpu.some?.total == 157_705_556)
        #expect(cpu.some?.avg300 == 4.25)
        #expect(cpu.full == Pressure.Line(avg10: 0, avg60: 0, avg300: 0, total: 0))
        let io = try Pressure(parsing: try KernelFixture.host("io.pressure"), file: "io.pressure")
        #expect(io.full?.total == 14_413_523)
        let memory = try Pressure(parsing: try KernelFixture.host("memory.pressure"), file: "memory.pressure")
        #expect(memory.some?.total == 0)
    }

    /// Kernels before 5.13 print only the `some` line in cpu.pressure; irq.pressure prints only
    /// `full`. Neither is available on this machine's kernels, so the text is written here in
    /// the kernel's format.
    @Test("a missing full (old cpu.pressure) or some (irq.pressure) line is nil")
    func missingLines() throws {
        let old = try Pressure(parsing: "some avg10=1.50 avg60=0.30 avg300=0.06 total=12345\n", file: "cpu.pressure")
        #expect(old.full == nil)
        #expect(old.some?.total == 12345)
        let irq = try Pressure(parsing: "full avg10=0.00 avg60=0.00 avg300=0.00 total=77\n", file: "irq.pressure")
        #expect(irq.some == nil)
        #expect(irq.full?.total == 77)
    }

    @Test("unknown fields are kept")
    func extraFields() throws {
        let pressure = try Pressure(
            parsing: "some avg10=0.00 avg60=0.00 avg300=0.00 total=1 avg1=0.50\n", file: "cpu.pressure")
        #expect(pressure.some?.extra == ["avg1": "0.50"])
    }

    @Test(
        "malformed pressure text is refused with the file and line",
        arguments: [
            "", "some avg10=0.00 avg60=0.00 total=5\n", "some avg10=x avg60=0.00 avg300=0.00 total=1\n",
            "half avg10=0.00 avg60=0.00 avg300=0.00 total=1\n", "some avg10=-1.00 avg60=0.00 avg300=0.00 total=1\n",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=1.5\n",
        ])
    func malformed(text: String) {
        let error = #expect(throws: CGroupError.self) { try Pressure(parsing: text, file: "memory.pressure") }
        #expect(error?.kind == .unparsable)
        #expect(error?.file == "memory.pressure")
    }
}
