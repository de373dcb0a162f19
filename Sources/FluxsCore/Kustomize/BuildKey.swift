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

    /// This program: the executable's device, inode, size and modification time (a new build or install is another
    /// program, whatever its version says); nil when it cannot be read (then nothing is skipped).
    static func program() -> String? {
        var st = stat()
        guard stat("/proc/self/exe", &st) == 0 else { return nil }
        return "\(st.st_dev) \(st.st_ino) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }

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
