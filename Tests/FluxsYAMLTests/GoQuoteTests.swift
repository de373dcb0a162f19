import FluxsYAML
import XCTest

/// GoQuote.quote is Go's strconv.Quote (fmt's %q); the expected texts are what Go prints.
final class GoQuoteTests: XCTestCase {
    func testQuotesAsGoStrconvQuote() {
        XCTAssertEqual(GoQuote.quote("plain text"), "\"plain text\"")
        XCTAssertEqual(GoQuote.quote("a\"b\\c"), #""a\"b\\c""#)
        XCTAssertEqual(GoQuote.quote("l1\nl2\tx\r\u{07}\u{08}\u{0C}\u{0B}"), #""l1\nl2\tx\r\a\b\f\v""#)
        XCTAssertEqual(GoQuote.quote("\u{01}\u{1F}\u{7F}"), #""\x01\x1f\x7f""#)
        // Printable non-ASCII stays; non-breaking space, zero-width space and C1 controls are not printable in Go.
        XCTAssertEqual(GoQuote.quote("é😀\u{A0}\u{200B}\u{85}"), #""é😀\u00a0\u200b\u0085""#)
        XCTAssertEqual(GoQuote.quote("\u{E000}\u{F0000}"), #""\ue000\U000f0000""#)
    }
}
