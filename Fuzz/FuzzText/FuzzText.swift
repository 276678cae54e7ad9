import FuzzSupport
@testable import Gateway
import Orders
import Cluster
import RPC

/// The small text formats that arrive from clients: execution cursors ("p1:12,p2:40"), ListOrders page tokens,
/// decimal numbers, the `authorization` header's bearer token, OrderIds, and an echoed quote of any of them. What
/// parses prints back to text that parses to the same value.
enum FuzzText {
    static let nodes = ["p1", "p2", "p3"]

    static func run(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let kind = input.byte()
        let text = String(decoding: input.rest(), as: UTF8.self)
        switch kind % 5 {
        case 0:
            if case .success(let positions) = ExecutionFeed.positions(text, nodes: nodes) {
                precondition(positions.count <= nodes.count && positions.values.allSatisfy { $0 < UInt64(Int64.max) })
                let printed = ExecutionFeed.cursor(positions)
                guard case .success(let again) = ExecutionFeed.positions(printed, nodes: nodes), again == positions else {
                    preconditionFailure("cursor \(printed) does not round-trip")
                }
            }
        case 1:
            if let (createdAt, key) = PageToken.parse(text) {
                let printed = PageToken.text(createdAt: createdAt, orderID: key)
                precondition(PageToken.parse(printed).map { $0 == createdAt && $1 == key } == true, "page token does not round-trip")
            }
        case 2:
            if let value = try? FixedPoint.parse(text) {
                let again = try? FixedPoint.parse(value.description)
                precondition(again == value, "\(value) does not round-trip")
                _ = try? value.multiplied(by: value, scale: min(value.scale, 18), rounding: .halfAwayFromZero)
                _ = try? value.adding(value).subtracting(value).rescaled(to: UInt32(kind % 19), rounding: .up)
            }
        case 3:
            if let token = APIKeys.bearerToken(text) {
                precondition(!token.isEmpty && token.utf8.count <= 512 && !token.contains(" "))
            }
        default:
            _ = OrderIDs.isOrderID(text)
            let quoted = Echo.quote(text)
            precondition(quoted.unicodeScalars.count <= Echo.maxCharacters * 12 + 32, "an echo is not short")
        }
    }

    static func seeds() -> [[UInt8]] {
        [[0] + Array("p1:12,p2:40,p3:7".utf8), [0] + Array("p1:9223372036854775806".utf8), [1] + Array("1700000000000000000/0123456789abcdef-0123456789abcdef0123456789abcdef".utf8),
         [2] + Array("-123.4500".utf8), [3] + Array("Bearer tw_abc".utf8), [4] + Array("say \"hi\"\n\u{7}".utf8)]
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzText.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
@_cdecl("FuzzText_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    LibFuzzer.run(argc, argv, fuzzOne)
}
#else
@main struct Runner {
    static func main() { FuzzMain.run(seeds: FuzzText.seeds, FuzzText.run) }
}
#endif
