import XCTest
import FluxsKube
@testable import FluxsCore
#if canImport(Glibc)
import Glibc
#endif

/// The build key's program identity (BuildKey.program): the file this code is mapped from, found in
/// /proc/self/maps by address, and only while the path the mapping names is still that file.
final class ProgramIdentityTests: XCTestCase {
    func identity(_ path: String) throws -> (String, stat) {
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        return ("\(st.st_dev) \(st.st_ino) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)", st)
    }

    func line(_ st: stat, path: String, start: String = "7f0000001000", end: String = "7f0000002000", inode: UInt64? = nil) -> String {
        let dev = UInt64(st.st_dev)
        return "\(start)-\(end) r-xp 00001000 \(String(BuildKey.devMajor(dev), radix: 16)):\(String(BuildKey.devMinor(dev), radix: 16)) \(inode ?? UInt64(st.st_ino))    \(path)"
    }

    func testTheMappingHoldingTheAddressNamesTheFile() throws {
        let dir = NSTemporaryDirectory() + "pid-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a prog", b = dir + "/b"
        try Files.writeAtomically(a, Array("one".utf8), mode: 0o700)
        try Files.writeAtomically(b, Array("second".utf8), mode: 0o700)
        let (ida, sta) = try identity(a), (idb, stb) = try identity(b)
        let maps = [line(sta, path: a), line(stb, path: b, start: "7f0000002000", end: "7f0000003000"),
                    "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]"].joined(separator: "\n") + "\n"
        let bytes = Array(maps.utf8)
        XCTAssertEqual(BuildKey.program(maps: bytes, address: 0x7f0000001000), ida)
        XCTAssertEqual(BuildKey.program(maps: bytes, address: 0x7f0000002fff), idb)
        // Outside every file mapping, or in an anonymous one: no identity.
        XCTAssertNil(BuildKey.program(maps: bytes, address: 0x7e0000000000))
        XCTAssertNil(BuildKey.program(maps: bytes, address: 0x7ffd00000010))
        // The path now names another file (replaced since it was mapped), or the file was deleted: no identity.
        XCTAssertNil(BuildKey.program(maps: Array(line(sta, path: a, inode: UInt64(sta.st_ino) + 1).utf8), address: 0x7f0000001800))
        XCTAssertNil(BuildKey.program(maps: Array(line(sta, path: a + " (deleted)").utf8), address: 0x7f0000001800))
        // A rewrite of the same file is another program.
        try Files.writeAtomically(a, Array("changed".utf8), mode: 0o700)
        let (ida2, sta2) = try identity(a)
        XCTAssertNotEqual(ida, ida2)
        XCTAssertEqual(BuildKey.program(maps: Array(line(sta2, path: a).utf8), address: 0x7f0000001800), ida2)
    }

    func testThisProcessIsTheExecutableItRuns() throws {
        // Not under valgrind (there /proc/self/exe is the tool): the file this code is mapped from is the executable.
        let (exe, _) = try identity("/proc/self/exe")
        XCTAssertEqual(BuildKey.program(), exe)
    }
}
