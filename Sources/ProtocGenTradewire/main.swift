// protoc-gen-tradewire: a protoc plugin that writes Tradewire's Swift API for .proto files. protoc sends a
// CodeGeneratorRequest on stdin and reads a CodeGeneratorResponse from stdout; both are decoded and encoded
// with protobuf-c (CProtocPlugin holds protoc-c's code for descriptor.proto and plugin.proto).
//
// Parameters: `c_module=NAME`, the C module holding protoc-c's output for the same files; `mode=services` writes
// the services (server protocols and clients, `*.grpc.swift`) instead of the messages (`*.pb.swift`);
// `catalog=NAME` also writes `ProtoCatalog.NAME`, every message and method of the files, in `ProtoCatalog+NAME.swift`,
// and, when methods have google.api.http bindings, their OpenAPI 3.0 document in `OpenAPIDocument.swift`.
import CProtobufC
import CProtocPlugin

#if canImport(Glibc)
import Glibc
#endif

func readStandardInput() -> [UInt8] {
    var input: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if count > 0 {
            input.append(contentsOf: chunk[0..<count])
        } else if count == 0 || errno != EINTR {
            return input
        }
    }
}

func writeStandardOutput(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let count = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { exit(1) }
        offset += count
    }
}

/// The response: either every generated file, or an error message for protoc to print.
func respond(files: [(name: String, content: String)], error: String?) {
    var response = Google__Protobuf__Compiler__CodeGeneratorResponse()
    google__protobuf__compiler__code_generator_response__init(&response)
    var storage: [UnsafeMutablePointer<CChar>] = []
    defer { storage.forEach { free($0) } }
    func keep(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(string)!
        storage.append(copy)
        return copy
    }
    if let error { response.error = keep(error) }
    var entries = files.map { file -> Google__Protobuf__Compiler__CodeGeneratorResponse__File in
        var entry = Google__Protobuf__Compiler__CodeGeneratorResponse__File()
        google__protobuf__compiler__code_generator_response__file__init(&entry)
        entry.name = keep(file.name)
        entry.content = keep(file.content)
        return entry
    }
    entries.withUnsafeMutableBufferPointer { buffer in
        var pointers: [UnsafeMutablePointer<Google__Protobuf__Compiler__CodeGeneratorResponse__File>?] =
            (0..<buffer.count).map { buffer.baseAddress! + $0 }
        pointers.withUnsafeMutableBufferPointer { list in
            response.n_file = list.count
            response.file = list.baseAddress
            let size = google__protobuf__compiler__code_generator_response__get_packed_size(&response)
            var bytes = [UInt8](repeating: 0, count: size)
            _ = google__protobuf__compiler__code_generator_response__pack(&response, &bytes)
            writeStandardOutput(bytes)
        }
    }
}

func generate(_ request: UnsafeMutablePointer<Google__Protobuf__Compiler__CodeGeneratorRequest>) throws
    -> [(name: String, content: String)]
{
    let parameters = cString(request.pointee.parameter).split(separator: ",").map {
        $0.split(separator: "=", maxSplits: 1).map(String.init)
    }
    let services = parameters.contains { $0 == ["mode", "services"] }
    let cModule = parameters.first(where: { $0.first == "c_module" && $0.count == 2 })?[1] ?? ""
    guard services || !cModule.isEmpty else {
        throw GeneratorError("missing parameter c_module=NAME (the C module with protoc-c's output)")
    }
    let files = cArray(request.pointee.proto_file, request.pointee.n_proto_file).map(FileDescriptor.init)
    let types = TypeTable(files: files)
    let wanted = Set((0..<request.pointee.n_file_to_generate).map { cString(request.pointee.file_to_generate[$0]) })
    let generated = files.filter { wanted.contains($0.name) }
    var output = try generated.compactMap { file -> (name: String, content: String)? in
        let generator = FileGenerator(file: file, types: types, cModule: cModule)
        if services {
            return file.services.isEmpty ? nil : (generator.outputName(suffix: ".grpc.swift"), try generator.generateServices())
        }
        return generator.hasTypes ? (generator.outputName(suffix: ".pb.swift"), try generator.generate()) : nil
    }
    if !services, let catalog = parameters.first(where: { $0.first == "catalog" && $0.count == 2 })?[1] {
        output.append(("ProtoCatalog+\(catalog).swift", try CatalogGenerator(files: generated, types: types).generate(name: catalog)))
        var openAPI = OpenAPIGenerator(files: generated, types: types)
        let document = try openAPI.generate(title: "Tradewire")
        if generated.contains(where: { $0.services.contains { $0.methods.contains { !$0.httpRules.isEmpty } } }) {
            output.append(("OpenAPIDocument.swift", document))
        }
    }
    return output
}

let input = readStandardInput()
guard let request = google__protobuf__compiler__code_generator_request__unpack(nil, input.count, input) else {
    respond(files: [], error: "protoc-gen-tradewire: could not decode the CodeGeneratorRequest")
    exit(0)
}
defer { google__protobuf__compiler__code_generator_request__free_unpacked(request, nil) }
do {
    respond(files: try generate(request), error: nil)
} catch {
    respond(files: [], error: "protoc-gen-tradewire: \(error)")
}
