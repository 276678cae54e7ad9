public import JSON

extension LoadResult {
    /// A readable summary, as printed at the end of a run.
    public func summary() -> String {
        let measuredFrom = model == "open"
            ? "latency from each operation's intended start (coordinated omission corrected)"
            : "latency from each operation's actual start (closed loop: stalls delay sending and are not in it)"
        var lines = [
            "\(name): \(kind) \(method), \(model) loop (\(load)), \(connections) connection\(connections == 1 ? "" : "s")",
            "  \(measuredFrom)",
            "  Count:        \(operations) in \(Self.format(seconds: measuredSeconds))",
            "  Rate:         \(Self.format(rate)) /s" + (kind == "unary" ? "" : ", messages both ways \(Self.format(messageRate)) /s (\(messagesSent) sent, \(messagesReceived) received)"),
            "  Latency:      mean \(Self.format(nanoseconds: UInt64(mean))), fastest \(Self.format(nanoseconds: fastest)), slowest \(Self.format(nanoseconds: slowest))",
            "  Percentiles:  " + percentiles.map { "p\(Self.format(percentile: $0.percentile)) \(Self.format(nanoseconds: $0.nanoseconds))" }
                .joined(separator: "  "),
            "  Status codes: " + statusCounts.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
        ]
        if !errors.isEmpty {
            lines.append("  Errors:")
            for (error, count) in errors.sorted(by: { $0.value > $1.value }).prefix(10) {
                lines.append("    \(count)× \(error)")
            }
        }
        lines.append(
            "  Transport errors \(transportErrors), timeouts \(timeouts)"
                + (model == "open" ? ", late sends \(lateSends), never sent \(unsent)" : "")
                + (abandoned > 0 ? ", abandoned in flight at the end \(abandoned)" : ""))
        lines.append("  Harness CPU:  \(Self.format(cpuMicrosPerOperation)) µs per operation")
        return lines.joined(separator: "\n")
    }

    /// The result as JSON: ghz's field names where ghz has the figure (durations in nanoseconds), and ours for
    /// the rest (the percentile curve and the timeline, which reports plot).
    public func json() -> JSONValue {
        var object: JSONObject = [
            "name": .string(name),
            "date": .string(date),
            "method": .string(method),
            "kind": .string(kind),
            "model": .string(model),
            "load": .string(load),
            "connections": .number(connections),
            "count": .number(operations),
            "total": .number(UInt64(measuredSeconds * 1e9)),
            "average": .number(UInt64(mean)),
            "fastest": .number(fastest),
            "slowest": .number(slowest),
            "rps": .number(rate),
            "statusCodeDistribution": .object(JSONObject(statusCounts.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
            "errorDistribution": .object(JSONObject(errors.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
            "latencyDistribution": .array(percentiles.map {
                .object(["percentage": .number($0.percentile), "latency": .number($0.nanoseconds)])
            }),
        ]
        object["transportErrors"] = .number(transportErrors)
        object["timeouts"] = .number(timeouts)
        object["messagesSent"] = .number(messagesSent)
        object["messagesReceived"] = .number(messagesReceived)
        object["lateSends"] = .number(lateSends)
        object["unsent"] = .number(unsent)
        object["abandoned"] = .number(abandoned)
        object["cpuMicrosPerOperation"] = .number(cpuMicrosPerOperation)
        object["percentileCurve"] = Tally.curveJSON(curve)
        object["timeline"] = .array(timeline.map {
            .object([
                "second": .number($0.second), "length": .number($0.length), "count": .number($0.operations),
                "failures": .number($0.failures), "p50": .number($0.p50), "p99": .number($0.p99), "max": .number($0.max),
            ])
        })
        return .object(object)
    }

    /// A result read back from ``json()`` (to overlay earlier runs in a report).
    public init(json: JSONValue) throws(LoadError) {
        func field(_ key: String) throws(LoadError) -> JSONValue {
            guard let value = json[key] else { throw LoadError("a load result needs \"\(key)\"") }
            return value
        }
        func number(_ key: String) throws(LoadError) -> Double { try field(key).doubleValue ?? 0 }
        func counts(_ key: String) throws(LoadError) -> [String: Int] {
            var result: [String: Int] = [:]
            for member in try field(key).objectValue?.members ?? [] { result[member.key] = Int(member.value.doubleValue ?? 0) }
            return result
        }
        name = try field("name").stringValue ?? ""
        date = try field("date").stringValue ?? ""
        method = try field("method").stringValue ?? ""
        kind = try field("kind").stringValue ?? ""
        model = try field("model").stringValue ?? ""
        load = try field("load").stringValue ?? ""
        connections = Int(try number("connections"))
        operations = Int(try number("count"))
        measuredSeconds = try number("total") / 1e9
        mean = try number("average")
        fastest = UInt64(try number("fastest"))
        slowest = UInt64(try number("slowest"))
        statusCounts = try counts("statusCodeDistribution")
        errors = try counts("errorDistribution")
        transportErrors = Int(try number("transportErrors"))
        timeouts = Int(try number("timeouts"))
        messagesSent = Int(try number("messagesSent"))
        messagesReceived = Int(try number("messagesReceived"))
        lateSends = Int(try number("lateSends"))
        unsent = Int(try number("unsent"))
        abandoned = Int(try number("abandoned"))
        cpuMicrosPerOperation = try number("cpuMicrosPerOperation")
        percentiles = (try field("latencyDistribution").arrayValue ?? []).map {
            ($0["percentage"]?.doubleValue ?? 0, UInt64($0["latency"]?.doubleValue ?? 0))
        }
        curve = (try field("percentileCurve").arrayValue ?? []).compactMap { point in
            guard let pair = point.arrayValue, pair.count == 2 else { return nil }
            return (pair[0].doubleValue ?? 0, UInt64(pair[1].doubleValue ?? 0))
        }
        timeline = (try field("timeline").arrayValue ?? []).map {
            TimelinePoint(
                second: $0["second"]?.doubleValue ?? 0, length: $0["length"]?.doubleValue ?? 1,
                operations: Int($0["count"]?.doubleValue ?? 0), failures: Int($0["failures"]?.doubleValue ?? 0),
                p50: UInt64($0["p50"]?.doubleValue ?? 0), p99: UInt64($0["p99"]?.doubleValue ?? 0),
                max: UInt64($0["max"]?.doubleValue ?? 0))
        }
    }

    /// The timeline as CSV: one row per interval.
    public func csv() -> String {
        var out = "second,count,rate,failures,p50_ms,p99_ms,max_ms\n"
        for point in timeline {
            out += [
                Self.format(point.second, digits: 3), String(point.operations), Self.format(point.rate, digits: 1),
                String(point.failures), Self.milliseconds(point.p50), Self.milliseconds(point.p99), Self.milliseconds(point.max),
            ].joined(separator: ",") + "\n"
        }
        return out
    }

    // MARK: - Formatting

    static func milliseconds(_ nanoseconds: UInt64) -> String { format(Double(nanoseconds) / 1e6, digits: 3) }

    /// "812 µs", "1.25 ms", "2.10 s".
    public static func format(nanoseconds: UInt64) -> String {
        let value = Double(nanoseconds)
        if value < 1e3 { return "\(nanoseconds) ns" }
        if value < 1e6 { return format(value / 1e3, digits: value < 1e4 ? 2 : 1) + " µs" }
        if value < 1e9 { return format(value / 1e6, digits: value < 1e7 ? 2 : 1) + " ms" }
        return format(value / 1e9, digits: 2) + " s"
    }

    static func format(seconds: Double) -> String { format(seconds, digits: 2) + " s" }

    static func format(percentile: Double) -> String {
        percentile == percentile.rounded() ? String(Int(percentile)) : String(percentile)
    }

    /// A number with thousands separators and no decimals when large, a few decimals when small.
    static func format(_ value: Double) -> String {
        if value >= 100 {
            let digits = Array(String(Int(value.rounded())))
            var out = ""
            for (index, digit) in digits.enumerated() {
                if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
                out.append(digit)
            }
            return out
        }
        return format(value, digits: 2)
    }

    /// `value` with `digits` decimals.
    public static func format(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(scaled.truncatingRemainder(dividingBy: scale))
        let sign = value < 0 && scaled > 0 ? "-" : ""
        return digits == 0 ? "\(sign)\(whole)" : "\(sign)\(whole)." + String(fraction).leftPadded(to: digits)
    }
}
