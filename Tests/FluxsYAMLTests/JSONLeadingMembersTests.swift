import FluxsYAML
import FluxsTestSupport
import XCTest

/// JSON.leadingMembers (a list's continue token read before its items are decoded) against the whole decode on
/// seeded generated objects written in random member orders, duplicates included: the members before the first
/// `items`, as the whole decode would have them there; nil for text that is not an object with such a member.
final class JSONLeadingMembersTests: XCTestCase {
    static let keys = ["kind", "apiVersion", "metadata", "items", "continue", "item", "x\"y", "\u{e9}"]

    func testAgreesWithTheWholeDecode() throws {
        var rng = SeededRandom(seed: 41)
        var checked = 0, found = 0
        for _ in 0..<1500 {
            // Members as written: keys may repeat (a later one replaces an earlier one, in its place).
            var written: [(String, Node)] = []
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                written.append((Self.keys.randomElement(using: &rng)!, JSONOmitTests.value(&rng, depth: 1, keys: Self.keys)))
            }
            var text = "{"
            for (i, (k, v)) in written.enumerated() {
                if i > 0 { text += Bool.random(using: &rng) ? "," : " ,\n " }
                text += JSON.quote(k) + (Bool.random(using: &rng) ? ":" : " : ") + (try JSON.encode(v))
            }
            text += "}"
            let bytes = Array(text.utf8)
            let got = JSON.leadingMembers(bytes: bytes, before: "items")
            guard let stop = written.firstIndex(where: { $0.0 == "items" }) else {
                XCTAssertNil(got, text)
                continue
            }
            var want = Mapping()
            for (k, v) in written[..<stop] { want[k] = try JSON.decode(try JSON.encode(v)) }
            XCTAssertEqual(got, want, text)
            // What the whole decode says of the same members when nothing after `items` repeats them.
            let later = Set(written[stop...].map(\.0))
            if let whole = try JSON.decode(bytes: bytes).map {
                for k in want.keys where !later.contains(k) { XCTAssertEqual(whole[k], want[k], text) }
            }
            checked += 1
            if want["metadata"] != nil { found += 1 }
        }
        XCTAssertGreaterThan(checked, 300)
        XCTAssertGreaterThan(found, 60)
    }

    func testNotAnObjectOrNoStop() {
        for text in ["", "[]", "\"items\"", "{}", "{\"kind\":\"List\"}", "{\"kind\":}", "{\"kind\" \"x\",\"items\":[]}",
                     "{\"a\":1 \"items\":[]}", "{items:[]}", "{\"a\":[1,}"] {
            XCTAssertNil(JSON.leadingMembers(bytes: Array(text.utf8), before: "items"), text)
        }
        // Only what comes before `items` is read: the rest may be cut off (the whole decode reports it).
        let cut = #" {"kind":"List","metadata":{"continue":"abc"},"items":[{"metad"#
        XCTAssertEqual(JSON.leadingMembers(bytes: Array(cut.utf8), before: "items")?["metadata"]?["continue"]?.string, "abc")
        XCTAssertEqual(JSON.leadingMembers(bytes: Array(#"{"items":[]}"#.utf8), before: "items"), Mapping())
    }
}
