/// Go's strconv.Quote (what fmt's %q prints for a string), for messages that reproduce Go's: `"` and `\` escaped,
/// `\a \b \f \n \r \t \v` by letter, other control characters and DEL as `\xHH`, other characters Go's
/// unicode.IsPrint refuses (format, private use, unassigned, separators other than the ASCII space) as `\uHHHH` or
/// `\UHHHHHHHH`, everything else as it is.
public enum GoQuote {
    public static func quote(_ s: String) -> String {
        var out = "\""
        let hex = Array("0123456789abcdef")
        func digits(_ v: UInt32, _ n: Int) -> String {
            String((0..<n).reversed().map { hex[Int((v >> (4 * UInt32($0))) & 15)] })
        }
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0B}": out += "\\v"
            case " ": out += " "
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    out += "\\x" + digits(u.value, 2)
                    continue
                }
                switch u.properties.generalCategory {
                case .control, .format, .surrogate, .privateUse, .unassigned, .spaceSeparator, .lineSeparator, .paragraphSeparator:
                    out += u.value < 0x10000 ? "\\u" + digits(u.value, 4) : "\\U" + digits(u.value, 8)
                default:
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
