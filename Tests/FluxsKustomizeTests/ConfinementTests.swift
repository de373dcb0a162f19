import Foundation
import FluxsKustomize
import FluxsTestSupport
import XCTest

/// The build stays inside its root (kustomize-controller's secure file system): every path a kustomization names
/// that resolves outside, absolute, through `..` or through a symlink, is an error naming the path, and nothing of
/// what lies outside is read.
final class ConfinementTests: XCTestCase {
    var top: URL!
    var root: URL { top.appendingPathComponent("repo") }
    var outside: URL { top.appendingPathComponent("outside") }

    let secretCM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaked\ndata:\n  password: hunter2\n"

    override func setUpWithError() throws {
        top = try TestEnv.tempDir("fluxs-confine")
        try TestEnv.write(secretCM, to: outside.appendingPathComponent("cm.yaml"))
        try TestEnv.write("resources:\n- cm.yaml\n", to: outside.appendingPathComponent("kustomization.yaml"))
        try TestEnv.write("kind: Component\napiVersion: kustomize.config.k8s.io/v1alpha1\nresources:\n- cm.yaml\n",
                          to: outside.appendingPathComponent("comp/kustomization.yaml"))
        try TestEnv.write(secretCM, to: outside.appendingPathComponent("comp/cm.yaml"))
        try TestEnv.write("password=hunter2\n", to: outside.appendingPathComponent("creds.env"))
        try TestEnv.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n", to: root.appendingPathComponent("app/ok.yaml"))
    }

    override func tearDownWithError() throws {
        if let top { try? FileManager.default.removeItem(at: top) }
    }

    func kustomization(_ text: String) throws {
        try TestEnv.write(text, to: root.appendingPathComponent("app/kustomization.yaml"))
    }

    func link(_ name: String, to target: URL) throws {
        let at = root.appendingPathComponent("app/" + name)
        try? FileManager.default.removeItem(at: at)
        try FileManager.default.createSymbolicLink(at: at, withDestinationURL: target)
    }

    func confinedBuild() throws -> [String] {
        let docs = try Kustomizer().build(root.appendingPathComponent("app").path, confinedTo: Confinement(root: root.path, name: "the artifact"))
        return docs.compactMap { $0["metadata"]?["name"]?.string }
    }

    /// Each way out fails naming the path as written and where it resolves; the same kustomization builds (and
    /// reads the outside file) without the confinement, so the test fails if the check goes.
    func testEveryWayOutIsRefused() throws {
        let out = outside.path
        let cases: [(String, String, (name: String, target: URL)?, String)] = [
            ("absolute base", "resources:\n- \(out)\n", nil, "resource '\(out)'"),
            ("dot-dot base", "resources:\n- ../../outside\n", nil, "resource '../../outside'"),
            ("dot-dot file", "resources:\n- ok.yaml\n- ../../outside/cm.yaml\n", nil, "resource '../../outside/cm.yaml'"),
            ("component", "components:\n- ../../outside/comp\n", nil, "component '../../outside/comp'"),
            ("symlinked base", "resources:\n- base\n", ("base", outside), "resource 'base' resolves to"),
            ("symlinked file", "resources:\n- cm.yaml\n", ("cm.yaml", outside.appendingPathComponent("cm.yaml")), "'cm.yaml'"),
            ("generator env", "configMapGenerator:\n- name: x\n  envs:\n  - leak.env\n", ("leak.env", outside.appendingPathComponent("creds.env")), "'leak.env'"),
            ("generator file", "secretGenerator:\n- name: x\n  files:\n  - leak.env\n", ("leak.env", outside.appendingPathComponent("creds.env")), "'leak.env'"),
            ("patch", "resources:\n- ok.yaml\npatches:\n- path: p.yaml\n", ("p.yaml", outside.appendingPathComponent("cm.yaml")), "'p.yaml'"),
            ("configurations", "resources:\n- ok.yaml\nconfigurations:\n- c.yaml\n", ("c.yaml", outside.appendingPathComponent("cm.yaml")), "'c.yaml'"),
        ]
        for (what, k, symlink, named) in cases {
            try kustomization(k)
            if let symlink { try link(symlink.name, to: symlink.target) }
            XCTAssertThrowsError(try confinedBuild(), what) { e in
                let m = "\(e)"
                XCTAssertTrue(m.contains("security:") && m.contains(named) && m.contains("which is not in or below the artifact"), "\(what): \(m)")
                XCTAssertFalse(m.contains("hunter2"), "\(what): \(m)")
            }
            // kubectl's own rules let the bases through (only files are restricted to the kustomization's directory).
            if what.hasSuffix("base") || what == "component" {
                let names = try Kustomizer().build(root.appendingPathComponent("app").path).compactMap { $0["metadata"]?["name"]?.string }
                XCTAssertTrue(names.contains("leaked"), "\(what): without confinement the outside base is built")
            }
            if let symlink { try FileManager.default.removeItem(at: root.appendingPathComponent("app/" + symlink.name)) }
        }
        // The kustomization file itself, through a symlink.
        try FileManager.default.removeItem(at: root.appendingPathComponent("app/kustomization.yaml"))
        try link("kustomization.yaml", to: outside.appendingPathComponent("kustomization.yaml"))
        XCTAssertThrowsError(try confinedBuild()) { XCTAssertTrue("\($0)".contains("kustomization file"), "\($0)") }
        // The build directory itself outside the root.
        XCTAssertThrowsError(try Kustomizer().build(out, confinedTo: Confinement(root: root.path))) {
            XCTAssertTrue("\($0)".contains("kustomization path '\(out)'"), "\($0)")
        }
    }

    /// Inside the root everything builds: a sibling base through `..`, a symlink that stays inside, SOPS files
    /// served from memory.
    func testInsideTheRootBuilds() throws {
        try TestEnv.write("resources:\n- cm.yaml\n", to: root.appendingPathComponent("base/kustomization.yaml"))
        try TestEnv.write(secretCM.replacingOccurrences(of: "leaked", with: "sibling"), to: root.appendingPathComponent("base/cm.yaml"))
        try TestEnv.write("a=1\n", to: root.appendingPathComponent("app/real.env"))
        try link("inside.env", to: root.appendingPathComponent("app/real.env"))
        try kustomization("resources:\n- ../base\n- ok.yaml\nconfigMapGenerator:\n- name: gen\n  envs:\n  - inside.env\n- name: mem\n  envs:\n  - decrypted.env\n")
        let memory = [root.appendingPathComponent("app/decrypted.env").path: Array("b=2\n".utf8)]
        let docs = try Kustomizer().build(root.appendingPathComponent("app").path, files: memory, confinedTo: Confinement(root: root.path))
        let names = docs.compactMap { $0["metadata"]?["name"]?.string }
        XCTAssertTrue(names.contains("sibling") && names.contains("ok"), "\(names)")
        XCTAssertTrue(names.contains { $0.hasPrefix("gen-") } && names.contains { $0.hasPrefix("mem-") }, "\(names)")
        XCTAssertEqual(docs.first { ($0["metadata"]?["name"]?.string ?? "").hasPrefix("mem-") }?["data"]?["b"]?.string, "2")
    }

    /// kubectl kustomize refuses a file symlinked out of the kustomization's directory (its load restrictor resolves
    /// symlinks); `fluxs kustomize build` answers the same, without confinement.
    func testSymlinkedFilesFollowKubectlsLoadRestriction() throws {
        try kustomization("configMapGenerator:\n- name: x\n  envs:\n  - leak.env\n")
        try link("leak.env", to: outside.appendingPathComponent("creds.env"))
        let dir = root.appendingPathComponent("app").path
        let kubectl = try TestEnv.kustomize([dir])
        XCTAssertNotEqual(kubectl.status, 0)
        XCTAssertTrue(kubectl.stderr.contains("security; file '\(dir)/leak.env' is not in or below '\(dir)'"), kubectl.stderr)
        XCTAssertThrowsError(try Kustomizer().build(dir)) {
            XCTAssertTrue("\($0)".contains("security; file '\(dir)/leak.env' is not in or below '\(dir)'"), "\($0)")
        }
    }
}
