import Foundation
import XCTest
@testable import FluxsCore
import FluxsTestSupport
import FluxsYAML

/// FluxBuild with `spec.decryption` on local files (no cluster): where kustomize-controller decrypts, what is
/// refused, and what printed output masks.
final class KustomizationDecryptionTests: XCTestCase {
    let identity = Age.Identity.generate()
    var dir: URL!

    override func setUpWithError() throws { dir = try TestEnv.tempDir("fluxs-sops-build") }
    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    func enc(_ s: String, _ f: SopsFormat, regex: String = "") throws -> String {
        var e = SopsEncryptor(recipients: [identity.recipient!])
        e.encryptedRegex = regex
        return String(decoding: try e.encrypt(Array(s.utf8), format: f), as: UTF8.self)
    }

    func write(_ files: [String: String]) throws {
        for (p, t) in files { try TestEnv.write(t, to: dir.appendingPathComponent(p)) }
    }

    let ks: Node = try! YAML.parse("""
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: app, namespace: flux-system}
        spec:
          path: ./app
          decryption: {provider: sops, secretRef: {name: sops-age}}
        """)

    func build(mask: Bool, root: String? = nil, identities: [Age.Identity]? = nil) throws -> (docs: [Node], decryption: KustomizationDecryption) {
        var b = FluxBuild(kustomization: ks, path: dir.appendingPathComponent("app").path)
        let d = KustomizationDecryption(identities: identities ?? [identity], root: root ?? dir.path)
        b.decryption = d
        b.maskSecrets = mask
        return (try b.build(), d)
    }

    func error(_ f: () throws -> Any) -> String {
        do { _ = try f(); return "" } catch { return "\(error)" }
    }

    func testGeneratorsReadTheCleartextAndOutputMasksIt() throws {
        try write([
            "app/kustomization.yaml": """
                secretGenerator:
                - {name: env, envs: [app.env]}
                - {name: values, files: [values.yaml=values.enc.yaml]}
                configMapGenerator:
                - {name: cm, envs: [app.env]}
                resources: [secret.yaml, disabled.yaml]
                """,
            "app/app.env": try enc("TOKEN=tok-123456\nMODE=fast\n", .dotenv),
            "app/values.enc.yaml": try enc("db:\n  password: pw-abcdef\n  port: 5432\n", .yaml),
            "app/secret.yaml": try enc("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: \(Base64.encode("v-0123456789"))\n", .yaml, regex: "^data$"),
            "app/disabled.yaml": try enc("apiVersion: v1\nkind: Secret\nmetadata:\n  name: off\n  annotations:\n    kustomize.toolkit.fluxcd.io/decrypt: Disabled\nstringData:\n  k: kept-encrypted\n", .yaml, regex: "^stringData$"),
        ])
        let (clear, _) = try build(mask: false)
        func obj(_ kind: String, _ prefix: String) -> Node? { clear.first { $0["kind"]?.string == kind && ($0["metadata"]?["name"]?.string ?? "").hasPrefix(prefix) } }
        XCTAssertEqual(obj("Secret", "env-")?["data"]?["TOKEN"]?.string.flatMap { Base64.decode($0) }, Array("tok-123456".utf8))
        XCTAssertEqual(obj("ConfigMap", "cm-")?["data"]?["TOKEN"]?.string, "tok-123456", "every reader of a decrypted file sees the cleartext")
        let values = String(decoding: Base64.decode(obj("Secret", "values-")!["data"]!["values.yaml"]!.string!)!, as: UTF8.self)
        XCTAssertEqual(try YAML.parse(values), try YAML.parse("db:\n  password: pw-abcdef\n  port: 5432\n"))
        XCTAssertEqual(obj("Secret", "s")?["data"]?["k"]?.string, Base64.encode("v-0123456789"))
        XCTAssertNil(obj("Secret", "s")?["sops"])
        XCTAssertTrue(obj("Secret", "off")?["stringData"]?["k"]?.string?.hasPrefix("ENC[AES256_GCM,") == true, "decrypt: disabled")

        let (masked, d) = try build(mask: true)
        let text = try FluxBuild.render(masked)
        for s in ["tok-123456", "pw-abcdef", "v-0123456789", "ENC[AES256_GCM"] { XCTAssertFalse(text.contains(s), "\(s) in\n\(text)") }
        XCTAssertTrue(text.contains("TOKEN: '**SOPS**'"), "the ConfigMap value is masked too:\n\(text)")
        XCTAssertTrue(text.contains("MODE: '**SOPS**'"))
        // The drift report's masking: decrypted text in other kinds is *** on both sides.
        let live = try YAML.parse("kind: ConfigMap\ndata: {TOKEN: old-token-value, other: x}\n")
        let built = try YAML.parse("kind: ConfigMap\ndata: {TOKEN: tok-123456, other: y}\n")
        let (l, b) = d.revealed.mask(live: live, built: built)
        XCTAssertEqual(l["data"]?["TOKEN"]?.string, "***")
        XCTAssertEqual(b["data"]?["TOKEN"]?.string, "***")
        XCTAssertEqual(b["data"]?["other"]?.string, "y")
    }

    func testFilesAreConfinedRegularAndSmall() throws {
        let outside = try TestEnv.tempDir("fluxs-sops-outside")
        defer { try? FileManager.default.removeItem(at: outside) }
        try TestEnv.write(try enc("A=1\n", .dotenv), to: outside.appendingPathComponent("x.env"))
        try write(["app/kustomization.yaml": "secretGenerator:\n- {name: e, envs: [link.env]}\n"])
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("app/link.env").path, withDestinationPath: outside.appendingPathComponent("x.env").path)
        XCTAssertEqual(error { try self.build(mask: false) }, "error decrypting sources: 'link.env': the file is not inside the source")
        try write(["app/kustomization.yaml": "secretGenerator:\n- {name: e, files: [big.bin]}\n",
                   "app/big.bin": String(repeating: "x", count: (5 << 20) + 1)])
        XCTAssertEqual(error { try self.build(mask: false) }, "error decrypting sources: cannot decrypt file with size (5242881 bytes) exceeding limit (5242880)")
        try write(["app/kustomization.yaml": "secretGenerator:\n- {name: e, envs: [missing.env]}\n"])
        XCTAssertEqual(error { try self.build(mask: false) }, "error decrypting sources: lstat app/missing.env: no such file or directory")
    }

    func testErrorsNameTheFileOrObject() throws {
        try write(["app/kustomization.yaml": "secretGenerator:\n- {name: e, envs: [app.env]}\n", "app/app.env": try enc("A=secret-a\n", .dotenv)])
        let wrong = error { try self.build(mask: false, identities: [Age.Identity.generate()]) }
        XCTAssertTrue(wrong.hasPrefix("error decrypting sources: 'app/app.env': cannot get sops data key: Failed to get the data key"), wrong)
        // A multi-document resource file is one MAC; removing a document is caught, naming the file.
        var e = SopsEncryptor(recipients: [identity.recipient!])
        e.encryptedRegex = "^stringData$"
        let docs = try e.encrypt(documents: [try YAML.parse("apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {k: secret-one}\n"),
                                            try YAML.parse("apiVersion: v1\nkind: Secret\nmetadata: {name: b}\nstringData: {k: secret-two}\n")])
        let both = try YAMLEmitter(sortKeys: false).emit(documents: docs)
        try write(["app/kustomization.yaml": "resources: [two.yaml]\n", "app/two.yaml": both])
        XCTAssertEqual(try build(mask: false).docs.map { $0["stringData"]?["k"]?.string }, ["secret-one", "secret-two"])
        try write(["app/two.yaml": try YAMLEmitter(sortKeys: false).emit(docs[0])])
        XCTAssertTrue(error { try self.build(mask: false) }.hasPrefix("decryption failed for 'app/two.yaml': failed to verify sops data integrity: MAC mismatch"))
        // A wrong key on a resource: the object is named as kustomize-controller names it.
        try write(["app/two.yaml": both])
        let obj = error { try self.build(mask: false, identities: [Age.Identity.generate()]) }
        XCTAssertTrue(obj.hasPrefix("decryption failed for '~G_v1_Secret/a': failed to decrypt and format '/a' Secret data: cannot get sops data key:"), obj)
    }

    func testKeyImport() throws {
        let (ids, unusable) = try KustomizationDecryption.keys(["age.agekey": identity.keyFile(created: "now")!, "pgp.asc": "x", "sops.aws-kms": "y", "other": "z"],
                                                               secret: "flux-system/sops")
        XCTAssertEqual(ids.count, 1)
        XCTAssertEqual(unusable, ["pgp.asc", "sops.aws-kms"])
        XCTAssertEqual(error { try KustomizationDecryption.keys(["bad.agekey": "nonsense\n"], secret: "flux-system/sops") },
                       "failed to import 'bad.agekey' data from sops decryption Secret 'flux-system/sops': failed to parse and add to age identities: unknown identity type")
    }
}
