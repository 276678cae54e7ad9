#if canImport(Glibc)
import Glibc
#endif

/// A self-contained HTML page (inline SVG, no scripts) comparing one or more runs: latency by percentile on a
/// log scale of 1/(1−p), as HdrHistogram's plotter draws it, then throughput and p99 over time, then a table.
public enum HTMLReport {
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public static func render(_ results: [LoadResult], title: String = "Tradewire load report") -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
            table { border-collapse: collapse; margin-top: 1em; }
            th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
            th:first-child, td:first-child { text-align: left; }
            svg { display: block; margin: 1em 0; }
            .axis { stroke: #444; } .grid { stroke: #e4e4e4; } text { font-size: 11px; fill: #333; }
            </style></head><body>
            <h1>\(escape(title))</h1>

            """
        html += "<p>" + results.enumerated().map { index, result in
            "<span style=\"color:\(color(index))\">■</span> <b>\(escape(result.name))</b>: \(escape(result.kind)) "
                + "\(escape(result.method)), \(escape(result.model)) loop (\(escape(result.load))), \(result.date)"
        }.joined(separator: "<br>") + "</p>\n"
        html += "<h2>Latency by percentile</h2>\n" + percentilePlot(results)
        // Results without a timeline (figures other tools wrote in this shape) get no time plots.
        if results.contains(where: { !$0.timeline.isEmpty }) {
            html += "<h2>Throughput over time (operations/s)</h2>\n"
                + timePlot(results, unit: "/s") { Double($0.rate) }
            html += "<h2>p99 latency over time (ms)</h2>\n"
                + timePlot(results, unit: "ms") { Double($0.p99) / 1e6 }
        }
        html += table(results)
        return html + "</body></html>\n"
    }

    // MARK: - Plots

    static let width = 900.0, height = 370.0, left = 70.0, right = 45.0, top = 25.0, bottom = 40.0

    /// x = log10(1/(1−p)): 0 at 0%, 1 at 90%, 2 at 99%…; y = latency in ms, linear.
    static func percentilePlot(_ results: [LoadResult]) -> String {
        let nines = 6.0  // up to 99.9999%
        let maxMillis = max(0.001, results.flatMap(\.curve).map { Double($0.nanoseconds) / 1e6 }.max() ?? 0.001)
        let yTop = niceCeiling(maxMillis)
        var svg = svgOpen()
        for tick in 0...Int(nines) {
            let x = left + (width - left - right) * Double(tick) / nines
            svg += line(x, top, x, height - bottom, "grid")
            svg += text(x, height - bottom + 15, percentLabel(tick), anchor: "middle")
        }
        svg += yAxis(top: yTop, unit: "ms")
        for (index, result) in results.enumerated() {
            let points = result.curve.compactMap { point -> (Double, Double)? in
                guard point.percentile < 100 else { return nil }
                let x = min(nines, log10(1 / (1 - point.percentile / 100)))
                return (left + (width - left - right) * x / nines, y(Double(point.nanoseconds) / 1e6, top: yTop))
            }
            svg += polyline(points, color(index))
        }
        svg += text(width / 2, height - 5, "percentile", anchor: "middle")
        return svg + "</svg>\n"
    }

    static func timePlot(_ results: [LoadResult], unit: String, _ value: (TimelinePoint) -> Double) -> String {
        let maxSecond = max(1, results.flatMap(\.timeline).map(\.second).max() ?? 1)
        let yTop = niceCeiling(max(0.001, results.flatMap(\.timeline).map(value).max() ?? 0.001))
        var svg = svgOpen()
        let xStep = niceCeiling(maxSecond / 10)
        var tick = 0.0
        while tick <= maxSecond + 1e-9 {
            let x = left + (width - left - right) * tick / maxSecond
            svg += line(x, top, x, height - bottom, "grid")
            svg += text(x, height - bottom + 15, LoadResult.format(tick, digits: tick == tick.rounded() ? 0 : 1), anchor: "middle")
            tick += xStep
        }
        svg += yAxis(top: yTop, unit: unit)
        for (index, result) in results.enumerated() {
            // A step per interval: its value held from the interval's start to its end.
            let points = result.timeline.flatMap { point in
                let yValue = y(value(point), top: yTop)
                return [max(0, point.second - point.length), point.second].map {
                    (left + (width - left - right) * $0 / maxSecond, yValue)
                }
            }
            svg += polyline(points, color(index))
        }
        svg += text(width / 2, height - 5, "seconds", anchor: "middle")
        return svg + "</svg>\n"
    }

    static func table(_ results: [LoadResult]) -> String {
        var html = "<table><tr><th>run</th><th>model</th><th>count</th><th>rate /s</th>"
        for percentile in LoadResult.reportedPercentiles { html += "<th>p\(LoadResult.format(percentile: percentile))</th>" }
        html += "<th>errors</th><th>late / never sent</th><th>harness CPU/op</th></tr>\n"
        for result in results {
            html += "<tr><td>\(escape(result.name))</td><td>\(escape(result.model))</td><td>\(result.operations)</td>"
                + "<td>\(LoadResult.format(result.rate))</td>"
            for point in result.percentiles { html += "<td>\(LoadResult.format(nanoseconds: point.nanoseconds))</td>" }
            html += "<td>\(result.operations - (result.statusCounts["OK"] ?? 0))</td>"
                + "<td>\(result.model == "open" ? "\(result.lateSends) / \(result.unsent)" : "–")</td>"
                + "<td>\(LoadResult.format(result.cpuMicrosPerOperation)) µs</td></tr>\n"
        }
        return html + "</table>\n"
    }

    // MARK: - SVG pieces

    static func svgOpen() -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\">\n"
            + line(left, top, left, height - bottom, "axis") + line(left, height - bottom, width - right, height - bottom, "axis")
    }

    static func yAxis(top yTop: Double, unit: String) -> String {
        var svg = ""
        let stepSize = yTop / 5
        let digits = stepSize >= 1 ? 0 : stepSize >= 0.1 ? 1 : stepSize >= 0.01 ? 2 : 3
        for step in 0...5 {
            let value = stepSize * Double(step)
            let yPosition = y(value, top: yTop)
            svg += line(left, yPosition, width - right, yPosition, "grid")
            svg += text(left - 6, yPosition + 4, LoadResult.format(value, digits: digits), anchor: "end")
        }
        return svg + text(left, top - 10, unit, anchor: "middle")
    }

    static func y(_ value: Double, top yTop: Double) -> Double {
        (height - bottom) - (height - bottom - top) * min(1, value / yTop)
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ cssClass: String) -> String {
        "<line class=\"\(cssClass)\" x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\"/>\n"
    }

    static func text(_ x: Double, _ y: Double, _ content: String, anchor: String) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\">\(escape(content))</text>\n"
    }

    static func polyline(_ points: [(Double, Double)], _ color: String) -> String {
        guard !points.isEmpty else { return "" }
        return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\""
            + points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ") + "\"/>\n"
    }

    /// The percentile `nines` nines in: 0%, 90%, 99%, 99.9%…
    static func percentLabel(_ nines: Int) -> String {
        switch nines {
        case 0: "0%"
        case 1: "90%"
        case 2: "99%"
        default: "99." + String(repeating: "9", count: nines - 2) + "%"
        }
    }

    static func color(_ index: Int) -> String { colors[index % colors.count] }

    static func f(_ value: Double) -> String { LoadResult.format(value, digits: 1) }

    /// 1, 2, 5 × a power of ten, at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        while magnitude > value { magnitude /= 10 }
        for factor in [1.0, 2.0, 5.0, 10.0] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
