/// A JSON document (RFC 8259) as a value. Numbers keep their literal text, so that 64-bit integers and long
/// decimals survive untouched until the reader decides what they are; objects keep their keys' order (reports
/// read in the order they were written) and compare without regard to it. Numbers compare by value (`1.5e300`
/// equals `1.5E+300`; 64-bit integers exactly).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number's literal text, as it appeared (or as `JSONValue.number(_:)` wrote it).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// An integer.
    public static func number<Integer: BinaryInteger>(_ value: Integer) -> JSONValue { .number(String(value)) }

    /// A finite double in its shortest exact form; JSON has no NaN or infinity, so those become null.
    public static func number(_ value: Double) -> JSONValue {
        guard value.isFinite else { return .null }
        if value == value.rounded(), abs(value) < 1e15 { return .number(String(Int64(value))) }
        return .number(String(value))
    }

    public static func == (left: JSONValue, right: JSONValue) -> Bool {
        switch (left, right) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a == b
        case (.number(let a), .number(let b)):
            if a == b { return true }
            if let a = Int64(a), let b = Int64(b) { return a == b }
            if let a = UInt64(a), let b = UInt64(b) { return a == b }
            guard let a = Double(a), let b = Double(b) else { return false }
            return a == b
        default: return false
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    public var int64Value: Int64? {
        if case .number(let text) = self { return Int64(text) ?? Double(text).flatMap { Int64(exactly: $0) } }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }
}

/// A JSON object: its members in order. Keys are unique when parsed (a duplicate is an error).
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public private(set) var members: [(key: String, value: JSONValue)]

    public init(_ members: [(key: String, value: JSONValue)] = []) {
        self.members = members
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = elements.map { (key: $0.0, value: $0.1) }
    }

    public var isEmpty: Bool { members.isEmpty }

    /// The value of `key`; setting replaces it in place, or appends it.
    public subscript(key: String) -> JSONValue? {
        get { members.first { $0.key == key }?.value }
        set {
            let index = members.firstIndex { $0.key == key }
            switch (index, newValue) {
            case (let index?, let value?): members[index].value = value
            case (let index?, nil): members.remove(at: index)
            case (nil, let value?): members.append((key, value))
            case (nil, nil): break
            }
        }
    }

    public static func == (left: JSONObject, right: JSONObject) -> Bool {
        guard left.members.count == right.members.count else { return false }
        return left.members.allSatisfy { member in right[member.key] == member.value }
    }
}

extension JSONValue {
    /// The integer member `key` of an object, checked where it enters: nil when absent; an error naming the key
    /// when it is not an integer within `range` (so a file's value is never silently ignored or used unbounded).
    public func integer(_ key: String, in range: ClosedRange<Int64>) throws(JSONFieldError) -> Int64? {
        guard let value = self[key] else { return nil }
        guard let number = value.int64Value, range.contains(number) else {
            throw JSONFieldError(key: key, expected: "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}

/// A member of a JSON object that is not what its reader accepts.
public struct JSONFieldError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var expected: String

    public init(key: String, expected: String) {
        self.key = key
        self.expected = expected
    }

    public var description: String { "\"\(key)\" must be \(expected)" }
}
