import AgentAPI
import ArgumentParser
import GRPCCore
import Foundation
import Libvirt
import NodeAgent

/// An error the CLI reports on stderr before exiting with the code documented in docs/CLI.md.
struct CLIError: Error, CustomStringConvertible {
    enum Exit: Int32 {
        case failed = 1, notFound = 2, refused = 3, wrongState = 4, timedOut = 5, alreadyExists = 6
        case cancelled = 7, unsupported = 8
        case invalidInput = 65, unavailable = 69, cannotCreate = 73, ioError = 74
    }
    var exit: Exit
    var message: String

    init(_ exit: Exit, _ message: String) {
        self.exit = exit
        self.message = message
    }

    init(_ error: AgentError) {
        let exit: Exit =
            switch error.code {
            case .invalidArgument: .invalidInput
            case .notFound: .notFound
            case .alreadyExists: .alreadyExists
            case .refused: .refused
            case .wrongState: .wrongState
            case .timedOut: .timedOut
            case .unavailable: .unavailable
            case .failed: .failed
            case .cancelled: .cancelled
            case .unsupported: .unsupported
            }
        self.init(exit, error.description)
    }

    /// An API status (the agent refused or failed a call).
    init(_ error: RPCError) {
        let exit: Exit =
            switch error.code {
            case .invalidArgument, .outOfRange: .invalidInput
            case .notFound: .notFound
            case .alreadyExists: .alreadyExists
            case .failedPrecondition, .permissionDenied, .unauthenticated: .refused
            case .deadlineExceeded: .timedOut
            case .unavailable, .resourceExhausted: .unavailable
            case .cancelled: .cancelled
            case .unimplemented: .unsupported
            default: .failed
            }
        self.init(exit, error.message)
    }

    /// A task that ended failed or cancelled; the exit code follows its reason.
    init(task: Nodeagent_V1_Task) {
        let exit: Exit
        if task.state == .cancelled {
            exit = .cancelled
        } else if let code = AgentError.Code(rawValue: task.error.reason) {
            exit = CLIError(AgentError(code, subject: "", operation: "", message: "")).exit
        } else {
            exit = .failed
        }
        let reason = task.error.reason.isEmpty ? task.state.name : task.error.reason
        self.init(exit, "task \(task.id) (\(task.kind) \(task.target)) \(task.state.name): \(reason): \(task.error.message)")
    }

    var description: String { message }
}

extension Nodeagent_V1_TaskState {
    /// queued, running, succeeded, failed, cancelled.
    var name: String {
        switch self {
        case .queued: "queued"
        case .running: "running"
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .cancelled: "cancelled"
        case .unspecified, .UNRECOGNIZED: "unknown"
        }
    }
}

/// Runs a command body, turning the agent's errors into a message and an exit code.
func reporting(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("nodeagent: \(error.message)\n".utf8))
        throw ExitCode(error.exit.rawValue)
    } catch let error as AgentError {
        let cli = CLIError(error)
        FileHandle.standardError.write(Data("nodeagent: \(cli.message)\n".utf8))
        if let spec = error.spec, spec.problems.count > 1 {
            for problem in spec.problems { FileHandle.standardError.write(Data("  \(problem)\n".utf8)) }
        }
        throw ExitCode(cli.exit.rawValue)
    } catch let error as RPCError {
        let cli = CLIError(error)
        FileHandle.standardError.write(Data("nodeagent: \(cli.message)\n".utf8))
        throw ExitCode(cli.exit.rawValue)
    }
}
