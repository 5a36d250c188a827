import ArgumentParser
import Foundation
import Libvirt
import NodeAgent

/// An error the CLI reports on stderr before exiting with the code documented in docs/CLI.md.
struct CLIError: Error, CustomStringConvertible {
    enum Exit: Int32 {
        case failed = 1, notFound = 2, refused = 3, wrongState = 4, timedOut = 5, alreadyExists = 6
        case cancelled = 7
        case invalidInput = 65, unavailable = 69
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
            }
        self.init(exit, error.description)
    }

    var description: String { message }
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
    }
}
