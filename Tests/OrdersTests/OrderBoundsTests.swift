import Orders
import Testing

/// Identifiers and symbols are checked over contiguous bytes when a string has them: the answer must be the rule's,
/// for native strings, substrings and every byte value at every position.
@Suite struct OrderBoundsTests {
    static func identifierRule(_ text: Substring) -> Bool {
        (1...64).contains(text.utf8.count) && text.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7e }
    }

    static func symbolRule(_ text: Substring) -> Bool {
        (1...16).contains(text.utf8.count) && text.utf8.allSatisfy { byte in
            (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39) || [0x2e, 0x5f, 0x2d, 0x2f].contains(byte)
        }
    }

    @Test func theRulesHoldForEveryCharacterAtEveryPlaceAndLength() {
        let characters: [Character] = ["A", "z", "0", ".", "_", "-", "/", "~", "!", " ", "\t", "\u{7f}", "é", "€", "😀", "\0"]
        for length in [0, 1, 15, 16, 17, 63, 64, 65] {
            for character in characters {
                for place in Set([0, length / 2, max(0, length - 1)]) where length > 0 || place == 0 {
                    var text = Array(repeating: Character("K"), count: length)
                    if length > 0 { text[place] = character }
                    let string = String(text)
                    let padded = "<" + string + ">"
                    let inner = padded.dropFirst().dropLast()
                    #expect(OrderBounds.isIdentifier(string) == Self.identifierRule(Substring(string)), "\(string.debugDescription)")
                    #expect(OrderBounds.isIdentifier(inner) == Self.identifierRule(inner), "substring \(string.debugDescription)")
                    #expect(OrderBounds.isSymbol(string) == Self.symbolRule(Substring(string)), "\(string.debugDescription)")
                    #expect(OrderBounds.isSymbol(inner) == Self.symbolRule(inner), "substring \(string.debugDescription)")
                }
            }
        }
        #expect(OrderBounds.isIdentifier("ab", maxBytes: 1) == false && OrderBounds.isIdentifier("a", maxBytes: 1))
    }
}
