#if canImport(Glibc)
import Glibc
#endif

/// Data goes to stdout; progress to stderr with flux's symbols. Colour only
/// when stderr is a terminal and NO_COLOR is unset.
final class Output {
    let color: Bool
    private var stdoutBuffer: [UInt8] = []

    init(env: [String: String]) {
        let noColor = env["NO_COLOR"].map { !$0.isEmpty } ?? false
        color = !noColor && isatty(2) == 1 && env["TERM"] != "dumb"
    }

    // MARK: stdout

    func print(_ s: String, terminator: String = "\n") {
        stdoutBuffer.append(contentsOf: s.utf8)
        stdoutBuffer.append(contentsOf: terminator.utf8)
        if stdoutBuffer.count > 1 << 16 { flush() }
    }

    func write(_ s: String) { print(s, terminator: "") }

    func flush() {
        guard !stdoutBuffer.isEmpty else { return }
        Output.writeAll(1, stdoutBuffer)
        stdoutBuffer.removeAll(keepingCapacity: true)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { if errno == EINTR { continue }; break }
                off += n
            }
        }
    }

    // MARK: stderr

    func stderr(_ s: String, newline: Bool = true) {
        flush()
        Output.writeAll(2, Array((s + (newline ? "\n" : "")).utf8))
    }

    private func line(_ symbol: String, _ code: String, _ msg: String) {
        if color {
            stderr("\u{1B}[\(code)m\(symbol)\u{1B}[0m \(msg)")
        } else {
            stderr("\(symbol) \(msg)")
        }
    }

    func action(_ msg: String) { line("►", "36", msg) }
    func generate(_ msg: String) { line("✚", "36", msg) }
    func waiting(_ msg: String) { line("◎", "33", msg) }
    func success(_ msg: String) { line("✔", "32", msg) }
    /// flux writes ⚠️ with the emoji variation selector.
    func warning(_ msg: String) { line("⚠️", "33", msg) }
    func failure(_ msg: String) { line("✗", "31", msg) }
}

/// flux's table format (tablewriter without borders, tab padding): see the reference §1.4.
enum Table {
    static func render(header: [String]?, rows: [[String]]) -> String {
        let headerCells = header?.map(title)
        let columns = max(headerCells?.count ?? 0, rows.map(\.count).max() ?? 0)
        var width = [Int](repeating: 0, count: columns)
        if let h = headerCells { for (i, c) in h.enumerated() { width[i] = max(width[i], displayWidth(c)) } }
        for r in rows {
            for (i, c) in r.enumerated() {
                for l in c.split(separator: "\n", omittingEmptySubsequences: false) { width[i] = max(width[i], displayWidth(String(l))) }
            }
        }
        var out = ""
        if let h = headerCells {
            for (i, c) in h.enumerated() {
                out += pad(c, width[i]) + (i == h.count - 1 ? " " : "\t")
            }
            out += "\n"
        }
        for r in rows {
            let lines = r.map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
            let height = lines.map(\.count).max() ?? 1
            for li in 0..<height {
                for i in 0..<columns {
                    let cellLines = i < lines.count ? lines[i] : [""]
                    let text = li < cellLines.count ? cellLines[li] : "  "
                    out += pad(text, width[i]) + "\t"
                }
                out += "\n"
            }
        }
        return out
    }

    /// tablewriter's Title(): `_` and non-numeric `.` become spaces, trimmed, upper-cased.
    static func title(_ name: String) -> String {
        var rs = Array(name)
        func numOrSpace(_ c: Character) -> Bool { c.isNumber || c == " " }
        for i in rs.indices {
            if rs[i] == "_" { rs[i] = " " }
            else if rs[i] == "." {
                if (i != 0 && !numOrSpace(rs[i - 1])) || (i != rs.count - 1 && !numOrSpace(rs[i + 1])) { rs[i] = " " }
            }
        }
        var s = String(rs).trimmingSpaces()
        if s.isEmpty && !name.isEmpty { s = " " }
        return s.uppercased()
    }

    static func pad(_ s: String, _ w: Int) -> String {
        let d = displayWidth(s)
        return d >= w ? s : s + String(repeating: " ", count: w - d)
    }

    static func displayWidth(_ s: String) -> Int {
        var w = 0
        var inEscape = false
        for u in s.unicodeScalars {
            if inEscape { if u == "m" { inEscape = false }; continue }
            if u == "\u{1B}" { inEscape = true; continue }
            let v = u.value
            if u.properties.generalCategory == .nonspacingMark || v == 0xFE0F || v == 0x200D { continue }
            switch v {
            case 0x1100...0x115F, 0x2E80...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F,
                 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD:
                w += 2
            default:
                w += 1
            }
        }
        return w
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
