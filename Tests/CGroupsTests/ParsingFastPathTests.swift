import CGroups
import Testing

// The parsers scan kernel text as bytes and hand anything unusual to their reference parsers
// over Characters. These tests check the edges where the two could disagree.
@Suite("Byte-level fast path of the parsers")
struct ParsingFastPathTests {
    @Test("unknown keys, blank lines and a repeated line order keep every extra entry")
    func extraKept() throws {
        let stat = try MemoryStat(parsing: "\n  \nanon 1\nslab 7\nworkingset_activate_anon 9\n\t\nfile 2\n")
        #expect(stat.anon == 1 && stat.file == 2)
        #expect(stat.extra == ["slab": 7, "workingset_activate_anon": 9])
        let cpu = try CPUStat(parsing: "system_usec 3\nuser_usec 2\nusage_usec 5\ncore_sched.force_idle_usec 4\n")
        #expect(cpu.usageUsec == 5 && cpu.userUsec == 2 && cpu.systemUsec == 3 && cpu.extra == ["core_sched.force_idle_usec": 4])
    }

    @Test("a value the byte scan refuses is still read as before (a trailing tab is trimmed)")
    func referenceDecides() throws {
        #expect(try CGroupStat(parsing: "nr_descendants 1\t\nnr_dying_descendants 0\n").descendants == 1)
        #expect(try CGroupText.value("42 \n", file: "memory.current", as: UInt64.self) == 42)
        #expect(try FlatKeyedFile(parsing: "a 1\n", file: "x").values(as: UInt64.self) == ["a": 1])
    }

    @Test("a carriage return or a repeated key is refused with the line")
    func refusals() {
        let crlf = #expect(throws: CGroupError.self) { try PIDsEvents(parsing: "max 1\r\n") }
        #expect(crlf?.kind == .unparsable)
        let repeated = #expect(throws: CGroupError.self) { try MemoryEvents(parsing: "low 0\nhigh 0\nlow 1\n") }
        #expect(repeated?.message.contains("line 3") == true)
        #expect(throws: CGroupError.self) { try PIDsEvents(parsing: "max 99999999999999999999\n") }
        #expect(throws: CGroupError.self) {
            try Pressure(parsing: "some avg10=x avg10=1.00 avg60=0 avg300=0 total=1\n", file: "cpu.pressure")
        }
        #expect(throws: CGroupError.self) { try IOStat(parsing: "8:0 rbytes=1 wbytes=1 rios=1 wios=1 rios=2\n") }
    }

    @Test("PSI decimals read exactly as Double(String) reads them", arguments: ["0.01", "35.05", "99.99", "100.00", "7", "0.10"])
    func decimals(text: String) throws {
        let pressure = try Pressure(parsing: "full avg10=\(text) avg60=\(text) avg300=0.00 total=1 extra=a\n", file: "x")
        #expect(pressure.full?.avg10 == Double(text))
        #expect(pressure.full?.extra == ["extra": "a"])
    }

    @Test("io.stat devices with scheduler fields kept as text")
    func ioStat() throws {
        let stat = try IOStat(
            parsing: "8:16 rbytes=1 wbytes=2 rios=3 wios=4 cost.vrate=100.00\n"
                + "7:0 rbytes=0 wbytes=0 rios=0 wios=0 dbytes=5 dios=6\n")
        #expect(stat.devices.count == 2)
        #expect(stat.devices[0].extra == ["cost.vrate": "100.00"] && stat.devices[0].discards == nil)
        #expect(stat.devices[1].discardedBytes == 5 && stat.devices[1].device == DeviceNumber(major: 7, minor: 0))
    }
}
