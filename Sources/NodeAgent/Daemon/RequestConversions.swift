import AgentAPI
import CGroups
import Foundation
import GRPCCore
import SwiftProtobuf

/// API guest specs and tunables to the agent's validated types. The API message mirrors the
/// spec file field for field (same snake_case names), so it goes through the same strict
/// decoder and validator as a file: one set of rules, one set of field-path errors.
enum GuestSpecConversion {
    private static var jsonOptions: JSONEncodingOptions {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        // proto3 JSON writes 64-bit integers as strings; the spec decoder takes numbers.
        options.alwaysPrintInt64sAsNumbers = true
        return options
    }

    static func spec(_ message: Nodeagent_V1_GuestSpec, field: String = "spec") throws(AgentError) -> GuestSpec {
        let spec: GuestSpec
        do throws(GuestSpecError) {
            try checkUnsigned(message.tunables, field: "tunables")
            for (index, disk) in message.disks.enumerated() { try checkUnsigned(disk.iotune, field: "disks[\(index)].iotune") }
            spec = try GuestSpec(json: try json(message, field: field))
            try spec.validate()
        } catch {
            throw invalid(error, field: field, subject: message.name)
        }
        return spec
    }

    /// Tunables for a change to a defined guest's limits, checked as far as they can be without
    /// the guest (its memory bounds the memory limits: the task checks those).
    static func tunables(_ message: Nodeagent_V1_Tunables, field: String = "tunables") throws(AgentError) -> GuestSpec.Tunables {
        do throws(GuestSpecError) {
            try checkUnsigned(message, field: "tunables")
            let tunables = try GuestSpec.decodeTunables(json: try json(message, field: field))
            try GuestSpec.validate(tunables: tunables, memory: ByteSize(bytes: 0)!)
            return tunables
        } catch {
            throw invalid(error, field: field, subject: "")
        }
    }

    /// The API's uint64 fields that the spec holds as signed 64-bit integers: a value above
    /// Int64.max would not survive the JSON bridge (Foundation refuses the whole document as
    /// "not valid JSON"), so it is refused here, named.
    private static func checkUnsigned(_ tunables: Nodeagent_V1_Tunables, field: String) throws(GuestSpecError) {
        let cpu = tunables.cpu
        try checkUnsigned(cpu.hasShares ? cpu.shares : nil, field: "\(field).cpu.shares")
        try checkUnsigned(cpu.hasPeriod ? cpu.period : nil, field: "\(field).cpu.period")
        try checkUnsigned(cpu.hasEmulatorPeriod ? cpu.emulatorPeriod : nil, field: "\(field).cpu.emulator_period")
    }

    private static func checkUnsigned(_ iotune: Nodeagent_V1_GuestSpec.Disk.IOTune, field: String) throws(GuestSpecError) {
        try checkUnsigned(iotune.hasTotalIopsSec ? iotune.totalIopsSec : nil, field: "\(field).total_iops_sec")
        try checkUnsigned(iotune.hasReadIopsSec ? iotune.readIopsSec : nil, field: "\(field).read_iops_sec")
        try checkUnsigned(iotune.hasWriteIopsSec ? iotune.writeIopsSec : nil, field: "\(field).write_iops_sec")
    }

    private static func checkUnsigned(_ value: UInt64?, field: String) throws(GuestSpecError) {
        guard let value, value > UInt64(Int64.max) else { return }
        throw GuestSpecError(field: field, rawValue: String(value), code: .outOfRange, reason: "must be at most \(Int64.max)")
    }

    private static func json(_ message: some SwiftProtobuf.Message, field: String) throws(GuestSpecError) -> Data {
        do {
            return Data(try message.jsonString(options: jsonOptions).utf8)
        } catch {
            throw GuestSpecError(field: field, rawValue: nil, code: .invalidValue, reason: "cannot be encoded: \(error)")
        }
    }

    /// Every problem with its full field path in the request (`spec.memory: ...`), joined.
    private static func invalid(_ error: GuestSpecError, field: String, subject: String) -> AgentError {
        let message = error.problems.map { problem in
            var problem = problem
            if problem.field.isEmpty {
                problem.field = field
            } else if problem.field != field && !problem.field.hasPrefix(field + ".") {
                problem.field = "\(field).\(problem.field)"
            }
            return problem.description
        }.joined(separator: "; ")
        return AgentError(.invalidArgument, subject: "", operation: "", message: message, spec: error)
    }
}

enum VolumeConversion {
    static func size(_ text: String, field: String) throws(AgentError) -> ByteSize {
        do throws(ByteSize.ParseError) {
            return try ByteSize(parsing: text)
        } catch {
            throw AgentError(.invalidArgument, subject: field, operation: "validate", message: "\(field): \(error)")
        }
    }

    static func spec(_ request: Nodeagent_V1_CreateVolumeRequest) throws(AgentError) -> VolumeSpec {
        let capacity = try size(request.capacity, field: "capacity")
        var spec = VolumeSpec(name: request.name, capacity: capacity)
        if !request.format.isEmpty {
            guard let format = VolumeSpec.Format(rawValue: request.format) else {
                throw AgentError(
                    .invalidArgument, subject: request.name, operation: "validate",
                    message: "format: must be one of \(VolumeSpec.Format.allCases.map(\.rawValue).joined(separator: ", ")) (got \(RequestCheck.quoted(request.format)))")
            }
            spec.format = format
        }
        if !request.allocation.isEmpty { spec.allocation = try size(request.allocation, field: "allocation") }
        do throws(GuestSpecError) {
            try spec.validate()
        } catch {
            throw AgentError(.invalidArgument, subject: request.name, operation: "validate", message: error.description, spec: error)
        }
        return spec
    }
}

enum CGroupPaths {
    /// An API cgroup path ("", "/", "a/b", "/a/b") relative to the managed root.
    static func relative(_ path: String) -> String {
        var path = Substring(path)
        while path.hasPrefix("/") { path = path.dropFirst() }
        while path.hasSuffix("/") { path = path.dropLast() }
        return String(path)
    }

    /// "FILE=VALUE" settings, split; the error names the setting.
    static func settings(_ settings: [String]) throws(RPCError) -> [(file: String, value: String)] {
        guard !settings.isEmpty else { throw RPCStatusMapping.invalid("settings", "at least one FILE=VALUE is required") }
        return try settings.enumerated().map { (index, setting) throws(RPCError) in
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw RPCStatusMapping.invalid("settings[\(index)]", "must be FILE=VALUE, e.g. memory.max=512M (got \(RequestCheck.quoted(setting)))")
            }
            return (parts[0], parts[1])
        }
    }
}
