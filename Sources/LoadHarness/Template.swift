public import RPC
import EventLoop

/// A text with placeholders filled in per request: `{{counter}}` (the request's number in the run, from 0),
/// `{{random}}` (a random 64-bit number), `{{uuid}}` (a random UUID), `{{unix_nanos}}` (the wall clock). Used
/// for metadata values and request JSON, so that, say, every order gets a fresh client order id.
public struct Template: Sendable, Hashable, CustomStringConvertible {
    enum Part: Sendable, Hashable {
        case text(String)
        case counter, random, uuid, unixNanos
    }

    let parts: [Part]
    public let description: String

    /// Parses `text`; an unknown `{{name}}` is an error (a typo would otherwise be sent as is).
    public init(_ text: String) throws(TemplateError) {
        description = text
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw TemplateError(description: "\"\(text)\": an unclosed {{")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingSpaces
            switch name {
            case "counter": parts.append(.counter)
            case "random": parts.append(.random)
            case "uuid": parts.append(.uuid)
            case "unix_nanos": parts.append(.unixNanos)
            default:
                throw TemplateError(
                    description: "\"\(text)\": unknown placeholder {{\(name)}} (known: counter, random, uuid, unix_nanos)")
            }
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
    }

    /// Whether every rendering is the same text.
    public var isConstant: Bool { parts.allSatisfy { if case .text = $0 { true } else { false } } }

    /// The text for request number `counter`.
    public func render(counter: Int) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .text(let text): out += text
            case .counter: out += String(counter)
            case .random: out += String(UInt64.random(in: .min ... .max))
            case .uuid: out += Self.uuid()
            case .unixNanos: out += String(WallClock.now())
            }
        }
        return out
    }

    private static func uuid() -> String {
        // Two draws of eight bytes (one getrandom call each), not sixteen draws of one.
        var bytes = [UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max)].flatMap { word in
            (0..<8).map { UInt8(truncatingIfNeeded: word >> UInt64(8 * $0)) }
        }
        bytes[6] = bytes[6] & 0x0f | 0x40  // version 4
        bytes[8] = bytes[8] & 0x3f | 0x80  // RFC 4122 variant
        let hex = bytes.map { String($0, radix: 16).leftPadded(to: 2) }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
    }
}

public struct TemplateError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// The requests of a run, serialized: one message sent every time, or one made per request (a JSON template
/// rendered and encoded, or any generator, such as an order-flow scenario's).
public struct RequestSource: Sendable {
    enum Storage: Sendable {
        case fixed([UInt8])
        case generated(@Sendable (Int) throws -> [UInt8])
        case mixed(@Sendable (Int) throws -> (MethodDescriptor, [UInt8]))
    }

    let storage: Storage

    /// The same serialized message for every request.
    public static func serialized(_ bytes: [UInt8]) -> RequestSource { RequestSource(storage: .fixed(bytes)) }

    /// A serialized message made for each request from its number in the run.
    public static func generated(_ make: @escaping @Sendable (Int) throws -> [UInt8]) -> RequestSource {
        RequestSource(storage: .generated(make))
    }

    /// Unary calls of several methods: for each request number, the method and its serialized request (a
    /// scenario such as an order flow of places, cancels and replaces). The plan's method names the first.
    public static func mixed(_ make: @escaping @Sendable (Int) throws -> (MethodDescriptor, [UInt8])) -> RequestSource {
        RequestSource(storage: .mixed(make))
    }

    /// The serialized request numbered `number`.
    public func request(_ number: Int) throws -> [UInt8] {
        switch storage {
        case .fixed(let bytes): bytes
        case .generated(let make): try make(number)
        case .mixed(let make): try make(number).1
        }
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
