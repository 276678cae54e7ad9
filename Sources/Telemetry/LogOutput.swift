import EventLoop
import JSON
public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How log records are written to standard error: one JSON object per line (for collectors; the default when
/// standard error is not a terminal) or one line of text (for people).
public enum LogFormat: String, Sendable, CaseIterable {
    case json, text

    /// JSON unless standard error is a terminal.
    public static var automatic: LogFormat { isatty(2) == 1 ? .text : .json }
}

/// A swift-log handler writing each record as one line on standard error: `time`, `level`, `service`, `logger`,
/// `message`, then the record's metadata (the request id among it) as members.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let service: String
    let label: String
    let format: LogFormat

    public init(service: String, label: String, level: Logger.Level, format: LogFormat) {
        self.service = service
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        if let error = event.error { merged["error"] = .string("\(error)") }
        let time = LogClock.timestamp()
        let line: String
        switch format {
        case .json:
            var members: [(key: String, value: JSONValue)] = [
                ("time", .string(time)), ("level", .string(event.level.rawValue)), ("service", .string(service)),
                ("logger", .string(label)), ("message", .string(event.message.description)),
            ]
            for key in merged.keys.sorted() { members.append((key, Self.json(merged[key]!))) }
            line = JSONValue.object(JSONObject(members)).text() + "\n"
        case .text:
            let fields = merged.keys.sorted().map { " \($0)=\(merged[$0]!)" }.joined()
            line = "\(time) \(event.level.rawValue) \(service): \(event.message)\(fields)\n"
        }
        StandardError.write(line)
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let entries): .object(JSONObject(entries.keys.sorted().map { ($0, json(entries[$0]!)) }))
        }
    }
}

/// UTC timestamps with milliseconds, RFC 3339: 2026-11-21T09:30:00.123Z.
enum LogClock {
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}
