// Test support needs XCTest, which a build with --static-swift-stdlib does not have (no static XCTest):
// there this module is empty, and only the test targets use it.
#if canImport(XCTest)
import Foundation
import XCTest

/// The test environment started by tools/testenv/testenv.py: its variables, and
/// helpers to run programs. Without the environment a test is skipped, unless
/// FLUXS_REQUIRE_TESTENV=1 (as in CI), where a missing environment fails.
public enum TestEnv {
    public static var env: [String: String] { ProcessInfo.processInfo.environment }

    public static func require(_ names: String...) throws -> [String: String] {
        var out: [String: String] = [:]
        for n in names {
            guard let v = env[n], !v.isEmpty else {
                let msg = "\(n) is not set: run the tests inside tools/testenv/testenv.py run (see docs/testing.md)"
                if env["FLUXS_REQUIRE_TESTENV"] == "1" { XCTFail(msg) }
                throw XCTSkip(msg)
            }
            out[n] = v
        }
        return out
    }

    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The fluxs binary built next to the test bundle.
    public static var fluxsBinary: URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let c = dir.appendingPathComponent("fluxs")
            if FileManager.default.isExecutableFile(atPath: c.path) { return c }
            dir = dir.deletingLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/fluxs")
    }

    public struct Run {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    @discardableResult
    public static func run(_ exe: String, _ args: [String], env extra: [String: String] = [:], stdin: String? = nil,
                           cwd: URL? = nil, removeEnv: [String] = []) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe.hasPrefix("/") ? exe : "/usr/bin/env")
        p.arguments = exe.hasPrefix("/") ? args : [exe] + args
        var e = env
        for k in removeEnv { e.removeValue(forKey: k) }
        for (k, v) in extra { e[k] = v }
        p.environment = e
        if let cwd { p.currentDirectoryURL = cwd }
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let s = stdin { inp.fileHandleForWriting.write(Data(s.utf8)) }
        try? inp.fileHandleForWriting.close()
        final class Box: @unchecked Sendable { var data = Data() }
        let outBox = Box()
        let g = DispatchGroup()
        g.enter()
        let reader = out.fileHandleForReading
        DispatchQueue.global().async { outBox.data = reader.readDataToEndOfFile(); g.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        g.wait()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: outBox.data, as: UTF8.self),
                   stderr: String(decoding: errData, as: UTF8.self))
    }

    /// `kubectl kustomize` as the kustomize oracle, always the same one: without a kubeconfig, so that a kubectl
    /// that picks its version by the server's (the gcloud dispatcher: v1.33 with kustomize v5.6 against kubesim,
    /// v1.32 with kustomize v5.5 otherwise) gives the version docs/kustomize.md was checked against. Its error
    /// line's klog quoting (err="... \"x\" ...") is undone, so messages compare as kustomize wrote them.
    public static func kustomize(_ args: [String], cwd: URL? = nil) throws -> Run {
        var r = try run("kubectl", ["kustomize"] + args, env: ["KUBECONFIG": "/dev/null"], cwd: cwd)
        r.stderr = r.stderr.replacingOccurrences(of: "\\\"", with: "\"")
        return r
    }

    /// Runs the fluxs binary.
    @discardableResult
    public static func fluxs(_ args: [String], env extra: [String: String] = [:], stdin: String? = nil, cwd: URL? = nil) throws -> Run {
        try run(fluxsBinary.path, args, env: extra, stdin: stdin, cwd: cwd)
    }

    public static func tempDir(_ prefix: String = "fluxs-test") throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    public static func write(_ text: String, to url: URL, mode: Int = 0o644) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
    }
}
#endif
