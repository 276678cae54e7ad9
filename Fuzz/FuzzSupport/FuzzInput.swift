#if canImport(Glibc)
import Glibc
#endif

/// The bytes of one fuzz input, read front to back: the harnesses take sizes, choices and pieces from it, so that
/// one input describes a whole scenario (which message type, how the bytes are cut into reads, …).
public struct FuzzInput {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var isAtEnd: Bool { offset >= bytes.count }
    public var remaining: Int { bytes.count - offset }

    /// The next byte (0 past the end).
    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The next 16-bit number, little-endian (0 past the end).
    public mutating func uint16() -> UInt16 { UInt16(byte()) | UInt16(byte()) << 8 }

    /// The next `count` bytes (fewer at the end).
    public mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let count = max(0, min(count, remaining))
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    /// Everything not read yet.
    public mutating func rest() -> UnsafeRawBufferPointer { take(remaining) }
}

/// The runner of a harness built without libFuzzer (a plain debug build): every file named on the command line
/// (or inside a folder named there) goes through the harness once — the committed corpus as a regression test.
/// `--write-seeds DIR` writes the harness's seed inputs into DIR (how the committed corpus was made).
public enum FuzzMain {
    public static func run(seeds: () -> [[UInt8]], _ body: (UnsafeRawBufferPointer) -> Void) {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--write-seeds", arguments.count == 2 {
            for (index, seed) in seeds().enumerated() { write(seed, to: "\(arguments[1])/seed-\(index)") }
            return
        }
        var count = 0
        while let path = arguments.popLast() {
            if let entries = list(path) {
                arguments += entries.map { "\(path)/\($0)" }
            } else if let bytes = read(path) {
                bytes.withUnsafeBytes(body)
                count += 1
            }
        }
        print("ran \(count) inputs")
    }

    private static func list(_ path: String) -> [String]? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    private static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes
    }

    private static func write(_ bytes: [UInt8], to path: String) {
        guard let file = fopen(path, "wb") else { return }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
    }
}

#if FUZZING
/// libFuzzer's driver (`-sanitize=fuzzer` links it): a harness built with -DFUZZING names its own `<Module>_main`
/// (what SwiftPM links as an executable's main) and hands over to it here.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

public enum LibFuzzer {
    public static func run(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                           _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
    {
        var count = argc
        var arguments = argv
        return LLVMFuzzerRunDriver(&count, &arguments, callback)
    }
}
#endif
