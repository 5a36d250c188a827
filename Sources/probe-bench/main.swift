// The probes' own command lines, for the benchmarks (Benchmarks/{disk,network,cpu-memory}/run.sh)
// and for trying a probe by hand outside the agent:
//
//     probe-bench disk --target PATH ...          (DiskProbeCommandLine)
//     probe-bench network server|client ...       (NetworkProbeCommandLine)
//     probe-bench cpu|memory|health|known-answers (CPUMemoryProbeCommandLine)
//
// `nodeagent burnin run` is the operator's entry point; this one exposes every knob.
import Foundation
import Probes

let usage = """
    usage: probe-bench disk|network|cpu|memory|health|known-answers [options]
      probe-bench <probe> --help lists a probe's options.

    """
let arguments = Array(CommandLine.arguments.dropFirst())
let status: Int32
switch arguments.first {
case "disk":
    status = await DiskProbeCommandLine.main(["probe-bench disk"] + arguments.dropFirst())
case "network":
    status = await NetworkProbeCommandLine.main(Array(arguments.dropFirst()))
case "cpu", "memory", "health", "known-answers":
    status = await CPUMemoryProbeCommandLine.main(arguments)
case "-h", "--help", "help":
    FileHandle.standardOutput.write(Data(usage.utf8))
    status = 0
default:
    FileHandle.standardError.write(Data(usage.utf8))
    status = 2
}
exit(status)
