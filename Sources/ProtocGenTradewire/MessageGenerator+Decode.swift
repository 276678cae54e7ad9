/// The decode half of the glue: `init(serializedBytes:limits:)` (unpack with protobuf-c) and `init(_c:)` (C tree →
/// Swift value).
extension MessageGenerator {
    func writeDecode(to out: inout CodeWriter) {
        out.block(
            "public init(serializedBytes bytes: UnsafeRawBufferPointer, limits: ProtoDecodingLimits) throws(ProtoDecodingError) {"
        ) { out in
            out.line("let arena = ProtoArena.acquire(maxBytes: limits.arenaBytes(forInput: bytes.count))")
            out.line("defer { arena.release() }")
            out.line("let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)")
            out.block(
                "guard let message = protobuf_c_message_unpack(Self.cDescriptor, UnsafeMutablePointer(arena.allocator), bytes.count, data) else {"
            ) { out in
                out.line("throw _ProtoC.unpackFailure(arena, message: Self.protoMessageName)")
            }
            out.line("try self.init(_c: UnsafeRawPointer(message).assumingMemoryBound(to: \(cType).self))")
        }
        out.line()
        out.block("init(_c c: UnsafePointer<\(cType)>) throws(ProtoDecodingError) {") { out in
            out.line("self.init()")
            for field in plainFields {
                writeDecode(field, to: &out)
            }
            for oneof in oneofs {
                writeDecode(oneof, to: &out)
            }
            if !isView { out.line("self.unknownFields = _ProtoC.unknownFields(c)") }
        }
    }

    /// Swift for one value held in C expression `value` (an element, a map key or value, a oneof member).
    static func decodeValue(_ field: FieldModel, _ value: String) -> String {
        switch field.base {
        case .number: return value
        case .bool: return "\(value) != 0"
        case .string: return "try _ProtoC.string(\(value), field: \"\(field.fullName)\")"
        case .bytes: return "_ProtoC.bytes(\(value).data, count: \(value).len)"
        case .enumeration(let swift, _, _): return "\(swift)(rawValue: Int32(truncatingIfNeeded: \(value).rawValue))"
        case .message(let swift, _, _): return "try \(swift)(_c: \(value))"
        }
    }

    private func writeDecode(_ field: FieldModel, to out: inout CodeWriter) {
        let member = "c.pointee.\(field.cMember)"
        let count = "c.pointee.n_\(field.cMember)"
        let property = "self.\(field.property)"
        switch field.shape {
        case .oneof:
            return
        case .singular:
            if case .message = field.base {
                out.line("if let value = \(member) { \(property) = \(Self.decodeValue(field, "value")) }")
            } else {
                out.line("\(property) = \(Self.decodeValue(field, member))")
            }
        case .repeated:
            switch field.base {
            case .number:
                out.line("\(property) = Array(UnsafeBufferPointer(start: \(member), count: \(count)))")
            case .string:
                out.line("\(property) = try _ProtoC.strings(\(member), count: \(count), field: \"\(field.fullName)\")")
            default:
                out.block("if \(count) > 0, let array = \(member) {") { out in
                    out.line("\(property).reserveCapacity(\(count))")
                    let element = field.cElementType.hasSuffix("?") ? "array[index]!" : "array[index]"
                    out.block("for index in 0..<\(count) {") { out in
                        out.line("\(property).append(\(Self.decodeValue(field, element)))")
                    }
                }
            }
        case .map(let key, let value, _, _):
            out.block("if \(count) > 0, let array = \(member) {") { out in
                out.line("\(property).reserveCapacity(\(count))")
                out.block("for index in 0..<\(count) {") { out in
                    out.line("let entry = array[index]!.pointee")
                    if case .message(let swift, _, _) = value.base {
                        out.line("let key = \(Self.decodeValue(key, "entry.key"))")
                        out.line("\(property)[key] = \(swift)()")
                        out.line("if let value = entry.value { \(property)[key] = try \(swift)(_c: value) }")
                    } else {
                        out.line(
                            "\(property)[\(Self.decodeValue(key, "entry.key"))] = \(Self.decodeValue(value, "entry.value"))")
                    }
                }
            }
        }
    }

    private func writeDecode(_ oneof: Oneof, to out: inout CodeWriter) {
        out.switchBlock("switch c.pointee.\(oneof.cCaseMember).rawValue {") { out in
            for field in oneof.fields {
                let member = "c.pointee.\(field.cMember)"
                if case .message = field.base {
                    out.line(
                        "case \(field.number): if let value = \(member) { self.\(oneof.property) = .\(field.property)(\(Self.decodeValue(field, "value"))) }"
                    )
                } else {
                    out.line("case \(field.number): self.\(oneof.property) = .\(field.property)(\(Self.decodeValue(field, member)))")
                }
            }
            out.line("default: break")
        }
    }
}
