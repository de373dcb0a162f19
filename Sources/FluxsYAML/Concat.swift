extension String {
    /// The parts one after another, written into one allocation. A run names each of thousands of objects several
    /// times (subjects, inventory ids, list keys); `String.append` costs ~300 instructions a call (capacity and
    /// flag checks, a grow), this ~100 for all the parts. The parts are valid strings, so their UTF-8 joined is too.
    public static func concat(_ parts: String...) -> String {
        var count = 0
        for p in parts { count += p.utf8.count }
        return String(unsafeUninitializedCapacity: count) { out in
            var at = 0
            for var p in parts {
                p.withUTF8 { bytes in
                    guard let from = bytes.baseAddress, !bytes.isEmpty else { return }
                    (out.baseAddress! + at).update(from: from, count: bytes.count)
                    at += bytes.count
                }
            }
            return at
        }
    }
}
