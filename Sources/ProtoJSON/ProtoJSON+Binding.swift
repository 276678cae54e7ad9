internal import CProtobufC
public import JSON
import ProtoCodec

extension ProtoJSON {
    /// Sets the field at `path` (names as in the .proto or in lowerCamelCase; message fields to walk through, then
    /// a scalar, enum or repeated scalar) of the `messageName` JSON in `json` from `text`, as a URL carries it — a
    /// path variable or a query parameter of an HTTP/JSON call (grpc-gateway's rules): numbers and enum names as
    /// written, `true`/`false`, bytes in base64, a repeated field appended to. What is already in `json` for the
    /// field under either of its names is replaced (a path variable wins over the body).
    public func bind(_ path: [String], to text: String, in json: inout JSONValue, messageName: String) throws(ProtoJSONError) {
        guard let type = catalog.messages[messageName] else {
            throw ProtoJSONError(path: "$", reason: "no message named \(messageName) is known")
        }
        guard !path.isEmpty else { throw ProtoJSONError(path: "$", reason: "an empty field path") }
        try Self.bind(path[...], text, in: &json, MessageDescriptor(type._protobufCDescriptor), at: "$")
    }

    private static func bind(_ path: ArraySlice<String>, _ text: String, in json: inout JSONValue, _ descriptor: MessageDescriptor,
                             at location: String) throws(ProtoJSONError)
    {
        let name = path.first!
        guard let field = descriptor.field(named: name) else {
            throw ProtoJSONError(path: location, reason: "\(descriptor.name) has no field \(name)")
        }
        let here = location + "." + field.name
        var object: JSONObject
        switch json {
        case .object(let existing): object = existing
        case .null: object = JSONObject()
        default: throw ProtoJSONError(path: location, reason: "expected an object")
        }
        // One key per field: the .proto name, whatever name the body used.
        let existing = object[field.name] ?? object[field.jsonName]
        object[field.jsonName] = nil
        if path.count > 1 {
            guard field.type == PROTOBUF_C_TYPE_MESSAGE, !field.isRepeated else {
                throw ProtoJSONError(path: here, reason: "is not a message field, so \(path.dropFirst().joined(separator: ".")) cannot be in it")
            }
            var inner = existing ?? .null
            try bind(path.dropFirst(), text, in: &inner, field.messageDescriptor, at: here)
            object[field.name] = inner
        } else {
            let value = try scalar(text, field, at: here)
            if field.isRepeated {
                guard !field.isMap else { throw ProtoJSONError(path: here, reason: "a map cannot be set from a URL") }
                var elements = existing?.arrayValue ?? []
                elements.append(value)
                object[field.name] = .array(elements)
            } else {
                object[field.name] = value
            }
        }
        json = .object(object)
    }

    /// `text` as the JSON the field's type reads.
    private static func scalar(_ text: String, _ field: FieldDescriptor, at location: String) throws(ProtoJSONError) -> JSONValue {
        switch field.type {
        case PROTOBUF_C_TYPE_BOOL:
            switch text {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: throw ProtoJSONError(path: location, reason: "expected true or false")
            }
        case PROTOBUF_C_TYPE_ENUM:
            let isNumber = !text.isEmpty && text.utf8.allSatisfy { (48...57).contains($0) || $0 == UInt8(ascii: "-") }
            return isNumber ? .number(text) : .string(text)
        case PROTOBUF_C_TYPE_MESSAGE:
            // The well-known types with a string form.
            let name = field.messageDescriptor.name
            guard name == "google.protobuf.Duration" || name == "google.protobuf.Timestamp" else {
                throw ProtoJSONError(path: location, reason: "is a \(name) message: a URL sets only scalar fields")
            }
            return .string(text)
        default:
            // Strings and bytes as they are; numbers as strings, which every number field reads.
            return .string(text)
        }
    }
}
