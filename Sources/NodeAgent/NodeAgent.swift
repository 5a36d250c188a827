import CSystemd

/// Process-wide set-up of the `nodeagent` executable.
public enum ProcessSetup {
    /// Makes stdout line-buffered, so output written under a pipe or the journal appears at
    /// once and in order with stderr.
    public static func lineBufferStandardOutput() { nodeagent_line_buffer_stdout() }

    /// Caps glibc's malloc arenas for a long-running agent (`MallocTuning`); call first thing,
    /// before any thread starts.
    public static func limitMallocArenas() { MallocTuning.limitArenas() }
}
