import CLibvirt

/// The value of a libvirt typed parameter (`virTypedParameter`).
public enum TypedValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case int(Int32)
    case uint(UInt32)
    case llong(Int64)
    case ullong(UInt64)
    case double(Double)
    case bool(Bool)
    case string(String)

    /// The value as an unsigned integer, if it is a non-negative integer of any width.
    public var unsigned: UInt64? {
        switch self {
        case .int(let v): v >= 0 ? UInt64(v) : nil
        case .uint(let v): UInt64(v)
        case .llong(let v): v >= 0 ? UInt64(v) : nil
        case .ullong(let v): v
        case .bool(let v): v ? 1 : 0
        case .double, .string: nil
        }
    }

    /// The value as a signed integer, if it is an integer that fits.
    public var signed: Int64? {
        switch self {
        case .int(let v): Int64(v)
        case .uint(let v): Int64(v)
        case .llong(let v): v
        case .ullong(let v): v <= UInt64(Int64.max) ? Int64(v) : nil
        case .bool(let v): v ? 1 : 0
        case .double, .string: nil
        }
    }

    public var string: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    public var description: String {
        switch self {
        case .int(let v): "\(v)"
        case .uint(let v): "\(v)"
        case .llong(let v): "\(v)"
        case .ullong(let v): "\(v)"
        case .double(let v): "\(v)"
        case .bool(let v): "\(v)"
        case .string(let v): v
        }
    }
}

/// One named typed parameter.
public struct TypedParameter: Sendable, Equatable, Codable {
    public var name: String
    public var value: TypedValue

    public init(name: String, value: TypedValue) {
        self.name = name
        self.value = value
    }

    /// Copies libvirt's C array. Parameters of an unknown type are kept as strings describing
    /// the type, so nothing is dropped silently.
    static func decode(_ params: UnsafeMutablePointer<virTypedParameter>?, count: Int32) -> [TypedParameter] {
        guard let params, count > 0 else { return [] }
        var result: [TypedParameter] = []
        result.reserveCapacity(Int(count))
        for i in 0..<Int(count) {
            let p = params[i]
            let name = withUnsafeBytes(of: p.field) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            let value: TypedValue
            switch Int32(p.type) {
            case Int32(VIR_TYPED_PARAM_INT.rawValue): value = .int(p.value.i)
            case Int32(VIR_TYPED_PARAM_UINT.rawValue): value = .uint(p.value.ui)
            case Int32(VIR_TYPED_PARAM_LLONG.rawValue): value = .llong(p.value.l)
            case Int32(VIR_TYPED_PARAM_ULLONG.rawValue): value = .ullong(p.value.ul)
            case Int32(VIR_TYPED_PARAM_DOUBLE.rawValue): value = .double(p.value.d)
            case Int32(VIR_TYPED_PARAM_BOOLEAN.rawValue): value = .bool(p.value.b != 0)
            case Int32(VIR_TYPED_PARAM_STRING.rawValue):
                value = .string(p.value.s.map { String(cString: $0) } ?? "")
            default: value = .string("<unknown typed parameter type \(p.type)>")
            }
            result.append(TypedParameter(name: name, value: value))
        }
        return result
    }
}
