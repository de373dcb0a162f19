import Foundation
import XCTest
@testable import FluxsCore
import FluxsTestSupport
import FluxsYAML

/// `spec.decryption` end to end: a repository on the git server with age-encrypted Secrets (made by fluxs's own
/// encryptor), reconciled into the API simulator; wrong keys and tampered files apply nothing; build and diff mask
/// every decrypted value; nothing decrypted is left on disk.
final class SopsKustomizationTests: XCTestCase {
    var fx: ReconcileFixture!
    let identity = Age.Identity.generate()
    var tmp: URL!

    let password = "s3cr3t-Pa55w0rd"
    let apiToken = "tok-8f9c2b1d7e"
    let dbURL = "postgres://app:db-pass-771@db:5432/app"
    /// A binary file (sops's binary format); UTF-8, as fluxs's current kustomize engine reads generator files as text.
    let keystore: [UInt8] = Array("\u{01}KS\r\n\tbinary-keystore-content ü €\u{7F}\n".utf8)
    let jsonSecret = "json-field-value-42"
    let patched = "patched-in-value-99"

    override func setUpWithError() throws {
        fx = try ReconcileFixture(prefix: "sops")
        tmp = try TestEnv.tempDir("fluxs-sops-tmp")
    }

    override func tearDownWithError() throws {
        fx?.cleanUp()
        if let tmp { try? FileManager.default.removeItem(at: tmp) }
    }

    var secrets: [String] { [password, apiToken, dbURL, jsonSecret, patched] }

    func encryptor(_ regex: String = "") -> SopsEncryptor {
        var e = SopsEncryptor(recipients: [identity.recipient!])
        e.encryptedRegex = regex
        return e
    }

    func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    /// The repository: an encrypted Secret resource, a dotenv and a binary file in secretGenerators, an encrypted
    /// patch, and a Secret whose data value is a whole SOPS JSON file.
    func files(password pw: String? = nil) throws -> [String: String] {
        let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: \(pw ?? password)\n  url: \(dbURL)\n"
        let env = "API_TOKEN=\(apiToken)\nLOG_LEVEL=debug\n"
        // As in kustomize-controller's tests, the encrypted patch applies to a Secret in clear.
        let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: plain\nstringData:\n  key: value\n"
        let patch = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: plain\nstringData:\n  extra: \(patched)\n"
        let json = try encryptor().encrypt(Array("{\"field\": \"\(jsonSecret)\"}".utf8), format: .json)
        let fieldSecret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: fields\ndata:\n  config.json: \(Base64.encode(json))\n"
        let kustomization = """
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            resources:
            - secret.yaml
            - fields.yaml
            - plain.yaml
            patches:
            - path: patch.yaml
            secretGenerator:
            - name: app-env
              envs:
              - app.env
            - name: keystore
              files:
              - keystore.bin=keystore.enc

            """
        return [
            "app/kustomization.yaml": kustomization,
            "app/secret.yaml": text(try encryptor("^(data|stringData)$").encrypt(Array(secret.utf8), format: .yaml)),
            "app/patch.yaml": text(try encryptor("^(data|stringData)$").encrypt(Array(patch.utf8), format: .yaml)),
            "app/app.env": text(try encryptor().encrypt(Array(env.utf8), format: .dotenv)),
            "app/keystore.enc": text(try encryptor().encrypt(keystore, format: .binary)),
            "app/fields.yaml": fieldSecret,
            "app/plain.yaml": plain,
        ]
    }

    func keySecret(_ name: String, _ id: Age.Identity) throws {
        let f = tmp.appendingPathComponent("\(name).agekey")
        try TestEnv.write(id.keyFile(created: "2024-01-01T00:00:00Z")!, to: f, mode: 0o600)
        let r = try fx.kubectl("create", "secret", "generic", name, "-n", fx.ns, "--from-file=age.agekey=\(f.path)")
        XCTAssertEqual(r.status, 0, r.stderr)
        try FileManager.default.removeItem(at: f)
    }

    func createKustomization(_ name: String, target: String, secret: String) throws -> TestEnv.Run {
        try fx.fluxs(["create", "kustomization", name, "--source=GitRepository/fleet", "--path=./app", "--prune=true",
                      "--interval=10m", "--target-namespace=\(target)", "--decryption-provider=sops", "--decryption-secret=\(secret)"],
                     extraEnv: ["TMPDIR": tmp.path])
    }

    func secretValue(_ name: String, _ key: String, namespace: String) throws -> [UInt8] {
        let b64 = try fx.jsonpath("secret", name, ".data.\(key.replacingOccurrences(of: ".", with: "\\."))", namespace: namespace)
        return Base64.decode(b64) ?? []
    }

    /// Nothing decrypted may stay on disk: fluxs's temporary directories are gone and no stored file holds a value.
    func assertNothingDecryptedOnDisk(file: StaticString = #filePath, line: UInt = #line) throws {
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: tmp.path)
        XCTAssertEqual(leftovers, [], "temporary files left behind", file: file, line: line)
        for dir in [tmp!, fx.storage] {
            let e = FileManager.default.enumerator(atPath: dir.path)
            while let p = e?.nextObject() as? String {
                guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(p).path) else { continue }
                for s in secrets { XCTAssertNil(data.range(of: Data(s.utf8)), "\(p) holds a decrypted value", file: file, line: line) }
            }
        }
    }

    func testReconcileDecryptsEveryKind() throws {
        let repo = try fx.source(try files())
        _ = repo
        try keySecret("sops-age", identity)
        let r = try createKustomization("app", target: fx.apps, secret: "sops-age")
        XCTAssertEqual(r.status, 0, r.stderr)
        let ready = try fx.ready("app")
        XCTAssertEqual(ready.status, "True", ready.message)
        XCTAssertEqual(text(try secretValue("db", "password", namespace: fx.apps)), password)
        XCTAssertEqual(text(try secretValue("db", "url", namespace: fx.apps)), dbURL)
        XCTAssertEqual(text(try secretValue("plain", "extra", namespace: fx.apps)), patched, "the encrypted patch")
        XCTAssertEqual(text(try secretValue("plain", "key", namespace: fx.apps)), "value")
        XCTAssertEqual(text(try secretValue("fields", "config.json", namespace: fx.apps)), "{\n\t\"field\": \"\(jsonSecret)\"\n}\n",
                       "a Secret field holding a SOPS JSON file, written back as JSON")
        let names = try fx.names("secrets")
        let envName = try XCTUnwrap(names.first { $0.hasPrefix("app-env-") }), ksName = try XCTUnwrap(names.first { $0.hasPrefix("keystore-") })
        XCTAssertEqual(text(try secretValue(envName, "API_TOKEN", namespace: fx.apps)), apiToken)
        XCTAssertEqual(text(try secretValue(envName, "LOG_LEVEL", namespace: fx.apps)), "debug")
        XCTAssertEqual(try secretValue(ksName, "keystore.bin", namespace: fx.apps), keystore, "binary file, byte for byte")
        XCTAssertNil(try fx.jsonpath("secret", "db", ".sops", namespace: fx.apps).nilIfEmpty, "the sops metadata is not applied")
        // The generator's name hash is over the cleartext, as kustomize-controller computes it.
        let plainEnv = try fluxsKustomizeHash(envText: "API_TOKEN=\(apiToken)\nLOG_LEVEL=debug\n")
        XCTAssertEqual(envName, "app-env-" + plainEnv)
        try assertNothingDecryptedOnDisk()

        // build and diff print no decrypted value; diff sees a changed password, masked.
        let local = try TestEnv.tempDir("fluxs-sops-local")
        defer { try? FileManager.default.removeItem(at: local) }
        for (p, t) in try files(password: "n3w-Pa55w0rd-value") { try TestEnv.write(t, to: local.appendingPathComponent(p)) }
        let build = try fx.fluxs(["build", "kustomization", "app", "--path", local.appendingPathComponent("app").path])
        XCTAssertEqual(build.status, 0, build.stderr)
        for s in secrets + ["n3w-Pa55w0rd-value", "ENC[AES256_GCM"] { XCTAssertFalse(build.stdout.contains(s), "build shows \(s)") }
        XCTAssertTrue(build.stdout.contains("name: \(envName)"), "build names the generated Secret as the cluster has it")
        XCTAssertTrue(build.stdout.contains("KipTT1BTKio="), build.stdout)
        let diff = try fx.fluxs(["diff", "kustomization", "app", "--path", local.appendingPathComponent("app").path])
        XCTAssertEqual(diff.status, 1, diff.stdout + diff.stderr)
        XCTAssertTrue(diff.stdout.contains("► Secret/\(fx.apps)/db drifted"), diff.stdout)
        XCTAssertTrue(diff.stdout.contains("*** (after)"), diff.stdout)
        for s in secrets + ["n3w-Pa55w0rd-value"] { XCTAssertFalse((diff.stdout + diff.stderr).contains(s), "diff shows \(s)") }
        XCTAssertFalse(diff.stdout.contains("Secret/\(fx.apps)/fields drifted"), "unchanged decrypted Secrets are not drifted: \(diff.stdout)")

        // Without the keys, build warns and masks as flux does (nothing decrypted, nothing shown).
        let ksFile = local.appendingPathComponent("ks.yaml")
        try TestEnv.write("""
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata: {name: app, namespace: \(fx.ns)}
            spec:
              interval: 10m
              path: ./app
              prune: true
              targetNamespace: \(fx.apps)
              sourceRef: {kind: GitRepository, name: fleet}
              decryption: {provider: sops, secretRef: {name: missing-key}}

            """, to: ksFile)
        let keyless = try fx.fluxs(["build", "kustomization", "app", "--path", local.appendingPathComponent("app").path, "--kustomization-file", ksFile.path])
        XCTAssertEqual(keyless.status, 0, keyless.stderr)
        XCTAssertTrue(keyless.stderr.contains("SOPS decryption skipped for Kustomization '\(fx.ns)/app': secrets \"missing-key\" not found"), keyless.stderr)
        for s in secrets + ["n3w-Pa55w0rd-value"] { XCTAssertFalse(keyless.stdout.contains(s), "keyless build shows \(s)") }
        XCTAssertFalse(keyless.stdout.contains("ENC[AES256_GCM"), keyless.stdout)
    }

    /// kustomize's name suffix for a Secret generated from this env text (through fluxs's engine, unencrypted).
    func fluxsKustomizeHash(envText: String) throws -> String {
        let dir = try TestEnv.tempDir("fluxs-sops-hash")
        defer { try? FileManager.default.removeItem(at: dir) }
        try TestEnv.write("secretGenerator:\n- name: app-env\n  envs: [app.env]\n", to: dir.appendingPathComponent("kustomization.yaml"))
        try TestEnv.write(envText, to: dir.appendingPathComponent("app.env"))
        let out = try TestEnv.fluxs(["kustomize", "build", dir.path]).stdout
        let name = try YAML.parse(out)["metadata"]?["name"]?.string ?? ""
        return String(name.dropFirst("app-env-".count))
    }

    func testWrongKeyAndTamperedValuesApplyNothing() throws {
        let repo = try fx.source(try files())
        try keySecret("wrong-key", Age.Identity.generate())
        let r = try createKustomization("wrong", target: fx.apps, secret: "wrong-key")
        XCTAssertNotEqual(r.status, 0)
        let (status, reason, message) = try fx.ready("wrong")
        XCTAssertEqual(status, "False")
        XCTAssertEqual(reason, "BuildFailed")
        XCTAssertTrue(message.contains("Failed to get the data key required to decrypt the SOPS file"), message)
        XCTAssertTrue(message.contains("identity did not match any of the recipients"), message)
        XCTAssertTrue(message.contains(identity.recipient!.description), message)
        XCTAssertEqual(try fx.names("secrets"), [], "nothing applied")
        try assertNothingDecryptedOnDisk()

        // The right key applies; then a value changed in the repository without the key fails the MAC.
        try keySecret("sops-age", identity)
        XCTAssertEqual(try createKustomization("app", target: fx.apps, secret: "sops-age").status, 0)
        let before = try fx.names("secrets")
        var tampered = try files()
        tampered["app/secret.yaml"] = tampered["app/secret.yaml"]!.replacingOccurrences(of: "name: db", with: "name: db2")
        try repo.commit(tampered, "tamper")
        XCTAssertEqual(try fx.fluxs(["reconcile", "source", "git", "fleet"]).status, 0)
        let again = try fx.fluxs(["reconcile", "kustomization", "app"], extraEnv: ["TMPDIR": tmp.path])
        XCTAssertNotEqual(again.status, 0)
        let failed = try fx.ready("app")
        XCTAssertEqual(failed.reason, "BuildFailed")
        XCTAssertTrue(failed.message.contains("app/secret.yaml"), failed.message)
        XCTAssertTrue(failed.message.contains("failed to verify sops data integrity: MAC mismatch"), failed.message)
        XCTAssertEqual(try fx.names("secrets"), before, "nothing applied, nothing pruned")
        XCTAssertEqual(text(try secretValue("db", "password", namespace: fx.apps)), password)
        // A changed ciphertext fails AES-GCM's own check, naming the object.
        var broken = try files()
        let line = broken["app/secret.yaml"]!.split(separator: "\n").first { $0.contains("password: ENC[") }!
        let data = String(line.split(separator: "data:")[1].split(separator: ",")[0])
        var bytes = Base64.decode(data)!
        bytes[0] ^= 1
        broken["app/secret.yaml"] = broken["app/secret.yaml"]!.replacingOccurrences(of: data, with: Base64.encode(bytes))
        try repo.commit(broken, "corrupt")
        XCTAssertEqual(try fx.fluxs(["reconcile", "source", "git", "fleet"]).status, 0)
        XCTAssertNotEqual(try fx.fluxs(["reconcile", "kustomization", "app"], extraEnv: ["TMPDIR": tmp.path]).status, 0)
        let corrupt = try fx.ready("app").message
        XCTAssertTrue(corrupt.contains("decryption failed for '~G_v1_Secret/db'"), corrupt)
        XCTAssertTrue(corrupt.contains("Could not decrypt with AES_GCM: cipher: message authentication failed"), corrupt)
        for s in secrets { XCTAssertFalse(corrupt.contains(s)) }
        XCTAssertEqual(try fx.names("secrets"), before)
        try assertNothingDecryptedOnDisk()
    }

    func testPGPKeysAreRefusedByName() throws {
        var f = try files()
        var doc = try YAML.parse(f["app/secret.yaml"]!)
        doc.set(["sops", "age"], nil)
        doc.set(["sops", "pgp"], .sequence([.map([("created_at", "2024-01-01T00:00:00Z"), ("enc", "-----BEGIN PGP MESSAGE-----\nx\n-----END PGP MESSAGE-----"),
                                                  ("fp", "35C1A64CD7FC0AB6EB66756B2445463C3234ECE1")])]))
        f["app/secret.yaml"] = try YAMLEmitter(sortKeys: false).emit(doc)
        _ = try fx.source(f)
        try keySecret("sops-age", identity)
        XCTAssertNotEqual(try createKustomization("pgp", target: fx.apps, secret: "sops-age").status, 0)
        let message = try fx.ready("pgp").message
        XCTAssertTrue(message.contains("35C1A64CD7FC0AB6EB66756B2445463C3234ECE1: FAILED"), message)
        XCTAssertTrue(message.contains("PGP keys are not supported by fluxs yet"), message)
        XCTAssertEqual(try fx.names("secrets"), [])
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
