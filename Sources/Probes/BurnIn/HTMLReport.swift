import Foundation

extension BurnInReport {
    /// A self-contained HTML page: verdict, checks, and per probe its measurements, its series
    /// as line charts and its distributions as bar charts, drawn as inline SVG (no scripts, no
    /// external files).
    public func html() -> String {
        var body = ""
        body += "<h1>Burn-in <code>\(escape(profile))</code> on <code>\(escape(host.hostname))</code>: "
        body += "<span class=\"\(verdict.rawValue.lowercased())\">\(verdict.rawValue)</span>\(interrupted ? " (interrupted)" : "")</h1>\n"
        body += "<p>\(escape(host.cpuModel)), \(host.logicalCpus) CPUs, \(escape(Units.format(Double(host.memoryBytes), "B"))) memory, kernel \(escape(host.kernel)). "
        body += "Started \(escape(ISO8601DateFormatter().string(from: started))), \(String(format: "%.0f", finished.timeIntervalSince(started))) s.</p>\n"
        body += "<h2>Checks</h2>\n<table><tr><th>verdict</th><th>check</th><th>reason</th></tr>\n"
        for check in checks {
            body += "<tr><td class=\"\(check.verdict.rawValue.lowercased())\">\(check.verdict.rawValue)</td><td><code>\(escape(check.check))</code></td><td>\(escape(check.reason))</td></tr>\n"
        }
        body += "</table>\n"
        for probe in probes {
            body += "<h2>\(escape(probe.probe)) — \(probe.status.rawValue)</h2>\n"
            if !probe.reason.isEmpty { body += "<p>\(escape(probe.reason))</p>\n" }
            if !probe.measurements.isEmpty {
                body += "<table><tr><th>measurement</th><th>value</th></tr>\n"
                for m in probe.measurements {
                    body += "<tr><td><code>\(escape(m.name))</code></td><td>\(escape(Units.format(m.value, m.unit)))</td></tr>\n"
                }
                body += "</table>\n"
            }
            if !probe.findings.isEmpty {
                body += "<ul>\n"
                for f in probe.findings.prefix(200) {
                    body += "<li class=\"\(f.severity.rawValue)\">\(escape(f.kind)) \(escape(f.location)): \(escape(f.message))</li>\n"
                }
                body += "</ul>\n"
            }
            for series in probe.series where !series.points.isEmpty { body += SVGChart.line(series) }
            for distribution in probe.distributions where !distribution.bars.isEmpty { body += SVGChart.bars(distribution) }
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>burn-in \(escape(profile)) \(escape(host.hostname)) \(verdict.rawValue)</title>
            <style>
            body { font-family: sans-serif; margin: 2em; max-width: 60em; }
            table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
            .pass { color: #176b2c; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
            .warn { color: #a15c00; font-weight: bold; } .skip { color: #666; }
            svg { display: block; margin: 0.5em 0 1.5em; } svg text { font-size: 11px; font-family: sans-serif; }
            </style></head><body>
            \(body)</body></html>

            """
    }
}

/// HTML text and attribute escaping.
func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}

/// Inline SVG charts for the HTML report.
enum SVGChart {
    static let width = 640.0
    static let height = 220.0
    static let margin = (left: 70.0, right: 10.0, top: 24.0, bottom: 30.0)

    /// A line chart of a series (x: seconds, y: value from 0).
    static func line(_ series: Series) -> String {
        let xs = series.points.map(\.t)
        let ys = series.points.map(\.value)
        let xMax = max(xs.max() ?? 1, 1e-9)
        let yMax = max(ys.max() ?? 1, 1e-9) * 1.1
        let plotW = width - margin.left - margin.right
        let plotH = height - margin.top - margin.bottom
        let points = series.points.map { p in
            String(format: "%.1f,%.1f", margin.left + p.t / xMax * plotW, margin.top + plotH - p.value / yMax * plotH)
        }.joined(separator: " ")
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" role="img" aria-label="\(escape(series.name))">
            <text x="\(margin.left)" y="14">\(escape(series.name)) (\(escape(series.unit)))</text>
            \(axes(yMax: yMax, unit: series.unit, xLabel: String(format: "%.0f s", xMax)))
            <polyline fill="none" stroke="#1f5fa8" stroke-width="1.5" points="\(points)"/>
            </svg>

            """
    }

    /// A bar chart of a distribution (latency buckets, per-core throughput).
    static func bars(_ distribution: Distribution) -> String {
        let values = distribution.bars.map(\.value)
        let yMax = max(values.max() ?? 1, 1e-9) * 1.1
        let plotW = width - margin.left - margin.right
        let plotH = height - margin.top - margin.bottom
        let slot = plotW / Double(max(distribution.bars.count, 1))
        var rects = ""
        for (index, bar) in distribution.bars.enumerated() {
            let h = bar.value / yMax * plotH
            let x = margin.left + Double(index) * slot + slot * 0.1
            rects += String(
                format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#1f5fa8\"><title>%@: %@</title></rect>\n", x,
                margin.top + plotH - h, slot * 0.8, h, escape(bar.label), escape(Units.format(bar.value, distribution.unit)))
            if distribution.bars.count <= 32 {
                rects += String(
                    format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%@</text>\n", x + slot * 0.4, height - 10,
                    escape(bar.label))
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" role="img" aria-label="\(escape(distribution.name))">
            <text x="\(margin.left)" y="14">\(escape(distribution.name)) (\(escape(distribution.unit)))</text>
            \(axes(yMax: yMax, unit: distribution.unit, xLabel: ""))
            \(rects)</svg>

            """
    }

    private static func axes(yMax: Double, unit: String, xLabel: String) -> String {
        let plotH = height - margin.top - margin.bottom
        let bottom = margin.top + plotH
        return """
            <line x1="\(margin.left)" y1="\(margin.top)" x2="\(margin.left)" y2="\(bottom)" stroke="#444"/>
            <line x1="\(margin.left)" y1="\(bottom)" x2="\(width - margin.right)" y2="\(bottom)" stroke="#444"/>
            <text x="\(margin.left - 4)" y="\(margin.top + 4)" text-anchor="end">\(escape(Units.format(yMax, unit)))</text>
            <text x="\(margin.left - 4)" y="\(bottom)" text-anchor="end">0</text>
            <text x="\(width - margin.right)" y="\(height - 2)" text-anchor="end">\(escape(xLabel))</text>
            """
    }
}
