/// The built-in profiles (`nodeagent burnin profiles` prints them). Thresholds are floors that
/// catch broken hardware on any server of the last decade; fleet-specific expectations belong in
/// `min_baseline_ratio` checks against a baseline of identical hardware, or in your own profile.
enum BuiltInProfiles {
    static let commonChecks = """
        [[check]]
        metric = "disk.integrity.errors"
        max = 0

        [[check]]
        metric = "disk.seq_write.throughput"
        min = 52428800          # 50 MiB/s
        warn_below = 209715200  # 200 MiB/s

        [[check]]
        metric = "disk.seq_read.throughput"
        min = 52428800
        warn_below = 209715200

        [[check]]
        metric = "disk.rand_read.iops"
        min = 1000
        warn_below = 10000

        [[check]]
        metric = "disk.rand_read.latency_p99"
        max = 100000            # 100 ms
        warn_above = 10000      # 10 ms

        [[check]]
        metric = "cpu.errors"
        max = 0

        [[check]]
        metric = "cpu.slowest_core_ratio"
        min = 0.75
        warn_below = 0.85

        [[check]]
        metric = "memory.pattern.errors"
        max = 0

        [[check]]
        metric = "memory.triad.bandwidth"
        min = 1073741824        # 1 GiB/s
        warn_below = 4294967296

        [[check]]
        metric = "network.tcp.throughput"
        min = 125000000         # 1 Gbit/s, in bytes/s
        warn_below = 1250000000

        [[check]]
        metric = "network.rtt.latency_p99"
        max = 10000             # 10 ms
        warn_above = 1000

        [[check]]
        metric = "network.udp.loss"
        max = 1                 # percent
        warn_above = 0.1
        """

    static let quick = """
        name = "quick"
        description = "About a minute: every probe briefly. A smoke test after racking, not a burn-in."

        [health]

        [cpu]
        duration = 10

        [memory]
        bandwidth_passes = 3
        pattern_size = "64MiB"
        pattern_passes = 1

        [disk]
        size = "256MiB"
        phase_duration = 4

        [network]
        duration = 4
        streams = 4

        """ + commonChecks

    static let standard = """
        name = "standard"
        description = "About 15 minutes: every probe long enough for steady-state numbers and a full pattern pass over a quarter of free memory."

        [health]

        [cpu]
        duration = 180

        [memory]
        bandwidth_passes = 10
        pattern_size = "25%"
        pattern_passes = 1

        [disk]
        size = "4GiB"
        phase_duration = 60

        [network]
        duration = 30
        streams = 8
        udp = true

        """ + commonChecks + """

        [[check]]
        metric = "disk.seq_write.throughput"
        min_baseline_ratio = 0.9

        [[check]]
        metric = "disk.rand_read.iops"
        min_baseline_ratio = 0.9

        [[check]]
        metric = "memory.triad.bandwidth"
        min_baseline_ratio = 0.9

        [[check]]
        metric = "cpu.total.throughput"
        min_baseline_ratio = 0.9
        """

    static let soak = """
        name = "soak"
        description = "Hours: sustained load on every component, thermals and throttling over time, memory patterns repeated over most of free memory."

        [health]

        [cpu]
        duration = 7200

        [memory]
        bandwidth_passes = 50
        pattern_size = "70%"
        pattern_passes = 4

        [disk]
        size = "32GiB"
        phase_duration = 900

        [network]
        duration = 600
        streams = 8
        udp = true

        """ + commonChecks + """

        [[check]]
        metric = "cpu.sustained_ratio"
        min = 0.85
        warn_below = 0.95

        [[check]]
        metric = "cpu.throttle_events"
        warn_above = 0
        """
}
