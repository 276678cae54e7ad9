/// The encode half of the glue: `_buildC` (Swift value → protobuf-c tree in an arena).
extension MessageGenerator {
    func writeEncode(to out: inout CodeWriter) {
        out.block("public func serializedBytes(headroom: Int) -> [UInt8] {") { out in
            out.line("let arena = ProtoArena.acquire(maxBytes: .max)")
            out.line("defer { arena.release() }")
            out.line("return ProtoArena.pack(UnsafeMutableRawPointer(_c(arena)), headroom: headroom)")
        }
        out.line()
        out.block("public func _buildC(in arena: ProtoArena) -> UnsafeMutableRawPointer {") { out in
            out.line("UnsafeMutableRawPointer(_c(arena))")
        }
        out.line()
        out.block("func _c(_ arena: ProtoArena) -> UnsafeMutablePointer<\(cType)> {") { out in
            out.line("let c = arena.allocate(\(cType).self)")
            out.line("\(cFunction)__init(c)")
            let needsEscapes = fields.contains { $0.mayEscape }
            if needsEscapes { out.line("var escaped = ProtoUnknownFields()") }
            for field in plainFields {
                writeEncode(field, to: &out)
            }
            for oneof in oneofs {
                writeEncode(oneof, to: &out)
            }
            out.line("arena.setUnknownFields(c, self.unknownFields, \(needsEscapes ? "escaped" : "ProtoUnknownFields()"))")
            out.line("return c")
        }
        out.line()
        out.line("public static var _protobufCDescriptor: UnsafeRawPointer { UnsafeRawPointer(cDescriptor) }")
        out.line()
        out.line("/// protoc-c's descriptor, read from an initialised message (Swift cannot take a C constant's address).")
        out.line("/// nonisolated(unsafe): the descriptor is constant static data, never written.")
        out.block("nonisolated(unsafe) static let cDescriptor: UnsafePointer<ProtobufCMessageDescriptor> = {") { out in
            out.line("var message = \(cType)()")
            out.line("\(cFunction)__init(&message)")
            out.line("return message.base.descriptor")
        }
        out.replaceLastLine(with: "}()")
    }

    /// C for one Swift value `value` of `field` (an element, a map key or value, a oneof member). String values
    /// may come out nil (the string went to `escapes`; see ProtoArena.cString).
    static func encodeValue(_ field: FieldModel, _ value: String, escapes: String) -> String {
        switch field.base {
        case .number: return value
        case .bool: return "\(value) ? 1 : 0"
        case .string: return "arena.cString(\(value), number: \(field.number), unknown: &\(escapes))"
        case .bytes: return "ProtobufCBinaryData(len: \(value).count, data: arena.cBytes(\(value)))"
        case .enumeration(_, let c, _): return "\(c)(rawValue: .init(truncatingIfNeeded: \(value).rawValue))"
        case .message: return "\(value)._c(arena)"
        }
    }

    private func writeEncode(_ field: FieldModel, to out: inout CodeWriter) {
        let member = "c.pointee.\(field.cMember)"
        let count = "c.pointee.n_\(field.cMember)"
        let property = "self.\(field.property)"
        switch field.shape {
        case .oneof:
            return
        case .singular:
            if case .message = field.base {
                out.line("if let value = \(property) { \(member) = value._c(arena) }")
            } else {
                out.line("\(member) = \(Self.encodeValue(field, property, escapes: "escaped"))")
            }
        case .repeated:
            switch field.base {
            case .number:
                out.line("\(count) = \(property).count")
                out.line("\(member) = arena.copy(\(property))")
            case .string:
                out.line(
                    "(\(count), \(member)) = arena.cStrings(\(property), number: \(field.number), unknown: &escaped)")
            default:
                out.block("if !\(property).isEmpty {") { out in
                    out.line("let array = arena.array(of: \(field.cElementType).self, count: \(property).count)")
                    out.block("for (index, value) in \(property).enumerated() {") { out in
                        out.line("array[index] = \(Self.encodeValue(field, "value", escapes: "escaped"))")
                    }
                    out.line("\(count) = \(property).count")
                    out.line("\(member) = array")
                }
            }
        case .map(let key, let value, let entryC, let entryFunction):
            out.block("if !\(property).isEmpty {") { out in
                out.line("let array = arena.array(of: UnsafeMutablePointer<\(entryC)>?.self, count: \(property).count)")
                out.block("for (index, key) in _ProtoC.sortedKeys(\(property)).enumerated() {") { out in
                    out.line("let entry = arena.allocate(\(entryC).self)")
                    out.line("\(entryFunction)__init(entry)")
                    let entryEscapes = key.mayEscape || value.mayEscape
                    if entryEscapes { out.line("var entryEscaped = ProtoUnknownFields()") }
                    out.line("entry.pointee.key = \(Self.encodeValue(key, "key", escapes: "entryEscaped"))")
                    out.line(
                        "entry.pointee.value = \(Self.encodeValue(value, "\(property)[key]!", escapes: "entryEscaped"))")
                    if entryEscapes {
                        out.line("arena.setUnknownFields(entry, ProtoUnknownFields(), entryEscaped)")
                    }
                    out.line("array[index] = entry")
                }
                out.line("\(count) = \(property).count")
                out.line("\(member) = array")
            }
        }
    }

    private func writeEncode(_ oneof: Oneof, to out: inout CodeWriter) {
        out.switchBlock("switch self.\(oneof.property) {") { out in
            for field in oneof.fields {
                let member = "c.pointee.\(field.cMember)"
                let setCase = "c.pointee.\(oneof.cCaseMember) = \(oneof.cCaseType)(rawValue: \(field.number))"
                out.line("case .\(field.property)(let value)?:")
                out.indented { out in
                    if case .string = field.base {
                        let copy = "arena.cOneofString(value, number: \(field.number), unknown: &escaped)"
                        out.block("if let string = \(copy) {") { out in
                            out.line("\(member) = string")
                            out.line(setCase)
                        }
                    } else {
                        out.line("\(member) = \(Self.encodeValue(field, "value", escapes: "escaped"))")
                        out.line(setCase)
                    }
                }
            }
            out.line("case nil: break")
        }
    }
}

extension FieldModel {
    /// Whether encoding this field may divert a string into the unknown-field list (see ProtoArena.cString).
    var mayEscape: Bool {
        if case .map = shape { return false }  // Map entries keep their own escapes.
        if case .string = base { return true }
        return false
    }
}
