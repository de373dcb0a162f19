import FluxsAPI
import FluxsKube
import FluxsYAML
#if canImport(Glibc)
import Glibc
#endif

/// What a Kustomization's build reads, hashed into one key that the AppliedRecord keeps (docs/decisions.md
/// "Build key"): the artifact (revision and digest), the Kustomization (namespace, name, spec), the postBuild
/// substitution data as resolved (a hash, never the values), the decryption Secret's data (a hash) and this
/// program. A run whose key is the recorded one, and whose objects are all still as the last apply left them, needs
/// no build.
enum BuildKey {
    static let format = "fluxs build key 1"

    /// This program: the device, inode, size and modification time of the file this code is mapped from (a new
    /// build or install is another program, whatever its version says); nil when it cannot be told (then nothing is
    /// skipped). The file is found in /proc/self/maps by the address of this function, not as /proc/self/exe: under
    /// valgrind that is the valgrind tool, the same for every program it runs. The path the mapping names must still
    /// be that file (same device and inode), so a binary replaced or deleted since it started is no identity.
    static func program() -> String? {
        let here: @convention(c) () -> Void = {}
        guard let maps = try? Files.read("/proc/self/maps") else { return nil }
        return program(maps: maps, address: UInt(bitPattern: unsafeBitCast(here, to: Int.self)))
    }

    /// The identity of the file whose mapping in `maps` (/proc/<pid>/maps) holds `address`.
    static func program(maps: [UInt8], address: UInt) -> String? {
        for line in maps.split(separator: 0x0A) {
            // start-end perms offset major:minor inode path
            let fields = line.split(separator: 0x20, maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6 else { continue }
            let range = fields[0].split(separator: 0x2D)
            guard range.count == 2, let start = UInt(String(decoding: range[0], as: UTF8.self), radix: 16),
                  let end = UInt(String(decoding: range[1], as: UTF8.self), radix: 16), start <= address, address < end else { continue }
            let dev = fields[3].split(separator: 0x3A)
            guard dev.count == 2, let major = UInt64(String(decoding: dev[0], as: UTF8.self), radix: 16),
                  let minor = UInt64(String(decoding: dev[1], as: UTF8.self), radix: 16),
                  let inode = UInt64(String(decoding: fields[4], as: UTF8.self)), inode != 0 else { return nil }
            var path = Substring(String(decoding: fields[5], as: UTF8.self))
            while path.first == " " { path = path.dropFirst() }
            guard path.hasPrefix("/") else { return nil }
            var st = stat()
            guard stat(String(path), &st) == 0, UInt64(st.st_ino) == inode,
                  devMajor(UInt64(st.st_dev)) == major, devMinor(UInt64(st.st_dev)) == minor else { return nil }
            return "\(st.st_dev) \(st.st_ino) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        }
        return nil
    }

    /// glibc's gnu_dev_major/gnu_dev_minor.
    static func devMajor(_ d: UInt64) -> UInt64 { ((d >> 8) & 0xfff) | ((d >> 32) & ~0xfff) }
    static func devMinor(_ d: UInt64) -> UInt64 { (d & 0xff) | ((d >> 12) & ~0xff) }

    /// SHA-256 of length-prefixed fields: no two lists of fields give the same bytes.
    static func digest(_ fields: [String]) -> String {
        var bytes: [UInt8] = []
        for f in fields {
            bytes += Array(String(f.utf8.count).utf8)
            bytes.append(0x3A)
            bytes += Array(f.utf8)
        }
        return Hashing.sha256Hex(bytes)
    }

    /// A hash of string data (sorted by key); "none" for none.
    static func digest(_ data: [String: String]?) -> String {
        guard let data else { return "none" }
        return digest(data.keys.sorted().flatMap { [$0, data[$0] ?? ""] })
    }
}
