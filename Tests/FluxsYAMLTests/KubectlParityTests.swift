import Foundation
import XCTest
@testable import FluxsYAML

/// The emitter must write what `kubectl kustomize` writes for the same manifests.
/// kubectl is on every machine of this project (it is the kustomize oracle).
final class KubectlParityTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/yaml")

    func kubectlKustomize(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fluxs-yaml-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var k = "resources:\n"
        for (name, text) in files.sorted(by: { $0.key < $1.key }) {
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
            k += "- \(name)\n"
        }
        try k.write(to: dir.appendingPathComponent("kustomization.yaml"), atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["kubectl", "kustomize", dir.path]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, String(decoding: errData, as: UTF8.self))
        return String(decoding: data, as: UTF8.self)
    }

    func fixtureNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    func testEachFixtureMatchesKubectl() throws {
        let names = try fixtureNames()
        XCTAssertGreaterThanOrEqual(names.count, 4)
        for name in names {
            let text = try String(contentsOf: Self.fixtures.appendingPathComponent(name), encoding: .utf8)
            let want = try kubectlKustomize([name: text])
            let docs = try YAML.parseDocuments(text, file: name)
            let got = try YAMLEmitter().emit(documents: docs)
            if ProcessInfo.processInfo.environment["DUMP"] != nil { print(got) }
            if got != want {
                let gl = got.split(separator: "\n", omittingEmptySubsequences: false)
                let wl = want.split(separator: "\n", omittingEmptySubsequences: false)
                for i in 0..<max(gl.count, wl.count) {
                    let g = i < gl.count ? String(gl[i]) : "<eof>"
                    let w = i < wl.count ? String(wl[i]) : "<eof>"
                    if g != w { XCTFail("\(name): line \(i + 1)\n  kubectl: \(w)\n  fluxs:   \(g)"); break }
                }
            }
        }
    }
}
