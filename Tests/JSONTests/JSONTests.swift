import JSON
import Testing

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONValue.parse(#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d\u00fc\n\"\ud83d\ude08"}} "#)
        #expect(value["a"] == .array([.number(1), .number("-2500"), .bool(true), .bool(false), .null]))
        #expect(value["b"]?["c"] == .string("dü\n\"😈"))
    }

    @Test func keepsLargeIntegersExactly() throws {
        let value = try JSONValue.parse("[18446744073709551615, -9223372036854775808]")
        #expect(value.arrayValue?[0] == .number("18446744073709551615"))
        #expect(value.arrayValue?[1].int64Value == .min)
        #expect(JSONValue.number("9007199254740993") != .number("9007199254740992"))
    }

    @Test func objectsCompareWithoutOrderAndKeepIt() throws {
        let value = try JSONValue.parse(#"{"z": 1, "a": 2}"#)
        #expect(value == .object(["a": .number(2), "z": .number(1)]))
        #expect(value.text() == #"{"z":1,"a":2}"#)
    }

    @Test(arguments: [
        ("", "unexpected end of input"),
        ("[1,]", "line 1, column 4"),
        ("{\"a\":1,\"a\":2}", "duplicate key"),
        ("\"\u{01}\"", "control character"),
        ("01", "line 1"),
        ("[1] x", "unexpected text after"),
        ("\"\\ud800\"", "surrogate"),
        ("{\"a\" 1}", "expected \":\""),
        ("tru", "line 1"),
    ])
    func rejectsWhatIsNotJSON(text: String, expected: String) {
        #expect {
            try JSONValue.parse(text)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func limitsNesting() {
        #expect(throws: JSONError.self) { try JSONValue.parse(String(repeating: "[", count: 200) + String(repeating: "]", count: 200)) }
        #expect(throws: Never.self) { try JSONValue.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)) }
    }

    @Test func writesWhatItReads() throws {
        let text = #"{"s":"tab\tquote\"ctl\u0001ü","n":[0,-1,1.5,1e+300],"o":{},"a":[],"t":true,"f":false,"z":null}"#
        let value = try JSONValue.parse(text)
        #expect(try JSONValue.parse(value.text()) == value)
        #expect(try JSONValue.parse(value.text(pretty: true)) == value)
        #expect(value.text().contains(#"\u0001"#))
    }
}
