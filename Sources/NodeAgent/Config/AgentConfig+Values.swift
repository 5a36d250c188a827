extension AgentConfig {
    /// Every key of the file with its effective value, in the order of docs/CONFIGURATION.md:
    /// what `nodeagent config check` prints. A test checks that it names exactly the keys the
    /// documentation lists.
    public var effectiveValues: [(key: String, value: String)] {
        func octal(_ value: Int) -> String { "0o" + String(value, radix: 8) }
        func list(_ values: [String]) -> String { "[" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        return [
            ("libvirt.uri", libvirt.uri),
            ("libvirt.keepalive_interval", "\(libvirt.keepaliveInterval)"),
            ("libvirt.keepalive_count", "\(libvirt.keepaliveCount)"),
            ("libvirt.call_timeout", "\(libvirt.callTimeout)"),
            ("libvirt.reconnect_max_delay", "\(libvirt.reconnectMaxDelay)"),
            ("guests.shutdown_grace", "\(guests.shutdownGrace)"),
            ("guests.shutdown_retry_interval", "\(guests.shutdownRetryInterval)"),
            ("guests.owner", guests.owner),
            ("cgroups.root", cgroups.root),
            ("agent.state_dir", agent.stateDirectory),
            ("api.unix_socket", api.unixSocket),
            ("api.unix_socket_mode", octal(api.unixSocketMode)),
            ("api.tcp_listen", api.tcpListen),
            ("api.tls_certificate", api.tlsCertificate),
            ("api.tls_key", api.tlsKey),
            ("api.tls_client_ca", api.tlsClientCA),
            ("api.allowed_clients", list(api.allowedClients)),
            ("api.max_concurrent_streams", "\(api.maxConcurrentStreams)"),
            ("tasks.guest_concurrency", "\(tasks.guestConcurrency)"),
            ("tasks.volume_concurrency", "\(tasks.volumeConcurrency)"),
            ("tasks.cgroup_concurrency", "\(tasks.cgroupConcurrency)"),
            ("tasks.burnin_concurrency", "\(tasks.burninConcurrency)"),
            ("tasks.max_attempts", "\(tasks.maxAttempts)"),
            ("tasks.retry_base_delay", "\(tasks.retryBaseDelay)"),
            ("tasks.retry_max_delay", "\(tasks.retryMaxDelay)"),
            ("tasks.retention_hours", "\(tasks.retentionHours)"),
            ("tasks.drain_timeout", "\(tasks.drainTimeout)"),
            ("events.retain_count", "\(events.retainCount)"),
            ("events.retention_hours", "\(events.retentionHours)"),
            ("events.state_report_interval", "\(events.stateReportInterval)"),
            ("burnin.net_server_listen", burnin.netServerListen),
            ("burnin.net_server_max_streams", "\(burnin.netServerMaxStreams)"),
            ("burnin.net_server_max_duration", "\(burnin.netServerMaxDuration)"),
            ("log.level", log.level),
        ]
    }
}
