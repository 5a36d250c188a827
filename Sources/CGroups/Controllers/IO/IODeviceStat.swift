/// The IO counters of one device in `io.stat`.
public struct IODeviceStat: Sendable, Hashable {
    /// The device.
    public var device: DeviceNumber
    /// Bytes read (`rbytes`).
    public var readBytes: UInt64
    /// Bytes written (`wbytes`).
    public var writtenBytes: UInt64
    /// Read operations (`rios`).
    public var reads: UInt64
    /// Write operations (`wios`).
    public var writes: UInt64
    /// Bytes discarded (`dbytes`, newer kernels).
    public var discardedBytes: UInt64?
    /// Discard operations (`dios`, newer kernels).
    public var discards: UInt64?
    /// Other fields, as the kernel printed them (e.g. `cost.usage`, `cost.vrate=100.00`).
    public var extra: [String: String]

    /// Counters of one device.
    public init(
        device: DeviceNumber, readBytes: UInt64, writtenBytes: UInt64, reads: UInt64, writes: UInt64,
        discardedBytes: UInt64? = nil, discards: UInt64? = nil, extra: [String: String] = [:]
    ) {
        self.device = device
        self.readBytes = readBytes
        self.writtenBytes = writtenBytes
        self.reads = reads
        self.writes = writes
        self.discardedBytes = discardedBytes
        self.discards = discards
        self.extra = extra
    }
}
