import FluxsYAML
import XCTest

/// String.concat is `+` of its parts: checked on generated parts (empty, small and large strings, non-ASCII,
/// combining marks, bridged-looking substrings made native) against the standard library's concatenation.
final class ConcatTests: XCTestCase {
    func testIsConcatenationOnGeneratedParts() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [String] = ["a", "Z", "0", "_", "/", ":", "é", "e\u{301}", "😀", "\u{200B}", "ß", "\u{0}", "漢", "\r\n"]
        for _ in 0..<3000 {
            let n = Int.random(in: 0...7, using: &rng)
            var parts: [String] = []
            for _ in 0..<n {
                let len = [0, 1, 2, 15, 16, 40, 200].randomElement(using: &rng)!
                var p = ""
                for _ in 0..<len { p += alphabet.randomElement(using: &rng)! }
                // a substring made a String: another storage than a literal or an append
                if Bool.random(using: &rng), p.count > 2 { p = String(p.dropFirst()) }
                parts.append(p)
            }
            let expected = parts.joined()
            let got: String
            switch parts.count {
            case 0: got = String.concat()
            case 1: got = String.concat(parts[0])
            case 2: got = String.concat(parts[0], parts[1])
            case 3: got = String.concat(parts[0], parts[1], parts[2])
            case 4: got = String.concat(parts[0], parts[1], parts[2], parts[3])
            case 5: got = String.concat(parts[0], parts[1], parts[2], parts[3], parts[4])
            case 6: got = String.concat(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
            default: got = String.concat(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6])
            }
            XCTAssertEqual(got, expected)
            XCTAssertEqual(Array(got.utf8), Array(expected.utf8))
            XCTAssertEqual(got.hashValue, expected.hashValue)
        }
    }
}
