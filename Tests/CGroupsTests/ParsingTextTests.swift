import CGroups
import Testing

@Suite("Interface file formats: single values, lists, flat and nested keyed")
struct ParsingTextTests {
    @Test("single values: one line, typed, with the file in errors")
    func singleValues() throws {
        #expect(try CGroupText.singleLine("max\n", file: "memory.max") == "max")
        #expect(try CGroupText.singleLine("", file: "cpuset.mems") == "")
        #expect(try CGroupText.value("20000 100000\n", file: "cpu.max", as: CPUMax.self).quota == .value(20000))
        #expect(try CGroupText.flag("1\n", file: "memory.oom.group"))
        #expect(try !CGroupText.flag("0\n", file: "cgroup.freeze"))
        let error = #expect(throws: CGroupError.self) { try CGroupText.singleLine("1\n2\n", file: "pids.current") }
        #expect(error?.kind == .unparsable)
        #expect(error?.file == "pids.current")
        #expect(error?.message.contains("line 2") == true)
        #expect(throws: CGroupError.self) { try CGroupText.flag("2\n", file: "cgroup.freeze") }
    }

    @Test("controller lists split on spaces; an empty file is no controllers")
    func words() throws {
        #expect(try CGroupText.words("cpuset cpu io memory\n", file: "cgroup.controllers") == ["cpuset", "cpu", "io", "memory"])
        #expect(try CGroupText.words("\n", file: "cgroup.subtree_control") == [])
    }

    @Test("PID lists: one positive number per line")
    func pids() throws {
        #expect(try CGroupText.pids("324\n325\n", file: "cgroup.procs") == [324, 325])
        #expect(try CGroupText.pids("", file: "cgroup.procs") == [])
        let error = #expect(throws: CGroupError.self) { try CGroupText.pids("324\nabc\n", file: "cgroup.threads") }
        #expect(error?.file == "cgroup.threads")
        #expect(error?.message.contains("line 2") == true)
        #expect(error?.message.contains("abc") == true)
        #expect(throws: CGroupError.self) { try CGroupText.pids("0\n", file: "cgroup.procs") }
    }

    @Test("flat keyed files keep every key in order and refuse malformed lines with the line number")
    func flatKeyed() throws {
        let flat = try FlatKeyedFile(parsing: "low 0\nnew_key 7\nsev max\n", file: "x")
        #expect(flat.keys == ["low", "new_key", "sev"])
        #expect(flat["new_key"] == "7")
        #expect(try flat.value("sev", as: CGroupLimit<UInt64>.self) == .max)
        #expect(try flat.value("absent", as: UInt64.self) == nil)
        for (text, line) in [("low 0\nhigh\n", 2), ("a 1 2\n", 1), ("a 1\na 2\n", 2), ("a  1\n", 1)] {
            let error = #expect(throws: CGroupError.self) { try FlatKeyedFile(parsing: text, file: "memory.events") }
            #expect(error?.kind == .unparsable)
            #expect(error?.file == "memory.events")
            #expect(error?.message.hasPrefix("line \(line) ") == true)
        }
        let notNumber = #expect(throws: CGroupError.self) {
            try FlatKeyedFile(parsing: "anon 1\nfile x\n", file: "memory.stat").values(as: UInt64.self)
        }
        #expect(notNumber?.message.contains("line 2") == true)
    }

    @Test("nested keyed files keep every field, tolerate the kernel's trailing space, refuse malformed fields")
    func nestedKeyed() throws {
        let nested = try NestedKeyedFile(parsing: "8:0 rbytes=1 cost.vrate=100.00 \n8:16\n", file: "io.stat")
        #expect(nested.lines.map(\.key) == ["8:0", "8:16"])
        #expect(nested["8:0"]?["cost.vrate"] == "100.00")
        #expect(nested["8:16"]?.fields == [])
        for text in ["8:0 rbytes\n", "8:0 =1\n", "8:0 a=1 a=2\n", "8:0 a=1\n8:0 a=2\n", "a=1 b=2\n"] {
            let error = #expect(throws: CGroupError.self) { try NestedKeyedFile(parsing: text, file: "io.max") }
            #expect(error?.kind == .unparsable)
            #expect(error?.file == "io.max")
        }
        let bad = try NestedKeyedFile(parsing: "8:0 rbps=fast\n", file: "io.max")
        let error = #expect(throws: CGroupError.self) {
            try bad.value("rbps", of: bad.lines[0], as: CGroupLimit<UInt64>.self)
        }
        #expect(error?.message.contains("rbps=fast") == true)
    }
}
