#if canImport(Glibc)
import Glibc
#endif
import FluxsKube

/// Commit signing for bootstrap (`--gpg-key-ring`/`--gpg-passphrase`/`--gpg-key-id`, `--ssh-signing-key-file`/
/// `--ssh-signing-password`, `--ssh-signing-reuse-private-key`), done as git does it: the commit text is signed by
/// GnuPG (`gpg --detach-sign --armor`, the key ring imported into a throwaway home) or by OpenSSH
/// (`ssh-keygen -Y sign -n git`), and the armored signature becomes the commit's `gpgsig` header. Passphrases go
/// through a pipe (gpg) or the environment of an askpass helper (ssh-keygen), never a file or the command line.
struct CommitSigner {
    enum Kind { case gpg(ring: String, passphrase: String, keyID: String), ssh(key: String, passphrase: String) }
    let kind: Kind

    /// flux's bootstrapValidate rules for the signing flags, then a trial signature (flux's pre-flight).
    static func from(_ inv: Invocation) throws -> CommitSigner? {
        let f = inv.flags
        let ring = f.string("gpg-key-ring"), sshKey = f.string("ssh-signing-key-file"), reuse = f.bool("ssh-signing-reuse-private-key")
        if !ring.isEmpty && (!sshKey.isEmpty || reuse) { throw CLIError("--gpg-* and --ssh-signing-* are mutually exclusive; pick one signing format") }
        if !sshKey.isEmpty && reuse { throw CLIError("--ssh-signing-key-file and --ssh-signing-reuse-private-key are mutually exclusive") }
        if reuse && f.string("private-key-file").isEmpty { throw CLIError("--ssh-signing-reuse-private-key requires --private-key-file") }
        var password = f.string("ssh-signing-password")
        let alias = f.string("ssh-signing-passphrase")
        if !password.isEmpty && !alias.isEmpty && password != alias {
            throw CLIError("--ssh-signing-password and --ssh-signing-passphrase are aliases; do not pass both")
        }
        if password.isEmpty { password = alias }
        if !password.isEmpty && sshKey.isEmpty { throw CLIError("--ssh-signing-password requires --ssh-signing-key-file") }
        let signer: CommitSigner
        if !ring.isEmpty {
            signer = CommitSigner(kind: .gpg(ring: ring, passphrase: f.string("gpg-passphrase"), keyID: f.string("gpg-key-id")))
        } else if !sshKey.isEmpty {
            signer = CommitSigner(kind: .ssh(key: sshKey, passphrase: password))
        } else if reuse {
            signer = CommitSigner(kind: .ssh(key: f.string("private-key-file"), passphrase: f.string("password")))
        } else {
            return nil
        }
        do { _ = try signer.sign("fluxs signing pre-flight\n") } catch let e as CLIError {
            if case .gpg = signer.kind { throw CLIError("invalid GPG signing key: \(e.message)") }
            throw CLIError(reuse ? "invalid signing key (reused from --private-key-file): \(e.message)" : "invalid SSH signing key: \(e.message)")
        }
        return signer
    }

    /// A private directory under $TMPDIR, removed (with what is in it) by `done`.
    static func scratch() throws -> String {
        var template = Array(((Subprocess.environment()["TMPDIR"] ?? "/tmp") + "/fluxs-sign-XXXXXX").utf8CString)
        guard let p = mkdtemp(&template) else { throw CLIError("cannot create a temporary directory for signing") }
        return String(cString: p)
    }

    static func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self).trimmingSpaces() }

    /// The armored signature of `payload`.
    func sign(_ payload: String) throws -> String {
        let dir = try Self.scratch()
        defer { Files.removeTree(dir) }
        switch kind {
        case .gpg(let ring, let passphrase, let keyID):
            let home = dir + "/gnupg"
            try Files.makeDirectories(home, mode: 0o700)
            let env = ["PATH": Subprocess.environment()["PATH"] ?? "/usr/bin:/bin", "GNUPGHOME": home, "LC_ALL": "C"]
            defer { _ = try? Subprocess.run("gpgconf", ["--homedir", home, "--kill", "gpg-agent"], env: env, timeout: 10) }
            let imported = try run("gpg", ["--homedir", home, "--batch", "--quiet", "--import", ring], env: env)
            guard imported.status == 0 else { throw CLIError(Self.text(imported.stderr).isEmpty ? "no key in \(ring)" : Self.text(imported.stderr)) }
            let data = dir + "/commit"
            try Files.writeAtomically(data, Array(payload.utf8), mode: 0o600)
            var args = ["--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase-fd", "0", "--armor", "--detach-sign"]
            if !keyID.isEmpty { args += ["--local-user", keyID] }
            let r = try run("gpg", args + ["--output", "-", data], env: env, input: Array(passphrase.utf8))
            guard r.status == 0, !r.stdout.isEmpty else {
                let why = Self.text(r.stderr).split(separator: "\n").last.map { String($0).replacingOccurrences(of: "gpg: ", with: "") } ?? "gpg failed"
                throw CLIError(why)
            }
            return String(decoding: r.stdout, as: UTF8.self)
        case .ssh(let keyFile, let passphrase):
            // ssh-keygen wants a private key only its owner can read.
            let key = dir + "/key"
            let bytes: [UInt8]
            do { bytes = try Files.read(keyFile) } catch { throw CLIError("failed to read SSH signing key file: open \(keyFile): no such file or directory") }
            try Files.writeAtomically(key, bytes, mode: 0o600)
            let askpass = dir + "/askpass"
            try Files.writeAtomically(askpass, Array("#!/bin/sh\nprintf '%s\\n' \"$FLUXS_SSH_SIGNING_PASSPHRASE\"\n".utf8), mode: 0o700)
            let env = ["PATH": Subprocess.environment()["PATH"] ?? "/usr/bin:/bin", "SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force",
                       "DISPLAY": "fluxs", "FLUXS_SSH_SIGNING_PASSPHRASE": passphrase, "LC_ALL": "C"]
            let r = try run("ssh-keygen", ["-Y", "sign", "-n", "git", "-f", key], env: env, input: Array(payload.utf8))
            guard r.status == 0, !r.stdout.isEmpty else {
                let err = Self.text(r.stderr)
                if err.contains("incorrect passphrase") { throw CLIError(passphrase.isEmpty ? "passphrase required to decrypt the key" : "incorrect passphrase") }
                if err.contains("libcrypto") || err.contains("invalid format") { throw CLIError("the file is not an SSH private key") }
                throw CLIError(err.split(separator: "\n").last.map(String.init) ?? "ssh-keygen failed")
            }
            return String(decoding: r.stdout, as: UTF8.self)
        }
    }

    func run(_ cmd: String, _ args: [String], env: [String: String], input: [UInt8]? = nil) throws -> Subprocess.Result {
        do { return try Subprocess.run(cmd, args, env: env, input: input ?? [], timeout: 60) } catch let e as Subprocess.Failure {
            throw CLIError("\(e.description) (commit signing needs \(cmd == "gpg" ? "GnuPG" : "OpenSSH's ssh-keygen"))")
        }
    }
}
