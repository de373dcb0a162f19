#if canImport(Glibc)
import Glibc
#endif
import FluxsKube
import FluxsYAML

/// Flux's OCI artifacts (fluxcd/pkg/oci): a tar.gz of a directory or a single file as the one layer, flux's
/// config and content media types, the source, revision and creation time as OpenContainers annotations.
public enum OCIArtifact {
    public static let configMediaType = "application/vnd.cncf.flux.config.v1+json"
    public static let contentMediaTypePrefix = "application/vnd.cncf.flux.content.v1"
    public static let contentMediaType = contentMediaTypePrefix + ".tar+gzip"
    public static let sourceAnnotation = "org.opencontainers.image.source"
    public static let revisionAnnotation = "org.opencontainers.image.revision"
    public static let createdAnnotation = "org.opencontainers.image.created"

    /// flux's default `--ignore-paths` of the artifact commands: sourceignore's VCS and extension exclusions.
    public static let defaultIgnore = SourceIgnore.excludeVCS + "," + SourceIgnore.excludeExt

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// The annotations an artifact carries (fluxcd/pkg/oci Metadata).
    public struct Metadata: Sendable, Equatable {
        public var created = ""
        public var source = ""
        public var revision = ""
        public var annotations: [String: String] = [:]

        public init(created: String = "", source: String = "", revision: String = "", annotations: [String: String] = [:]) {
            self.created = created; self.source = source; self.revision = revision; self.annotations = annotations
        }

        public init(annotations a: [String: String]) {
            created = a[OCIArtifact.createdAnnotation] ?? ""
            source = a[OCIArtifact.sourceAnnotation] ?? ""
            revision = a[OCIArtifact.revisionAnnotation] ?? ""
            annotations = a
        }

        /// ToAnnotations: created, source and revision, then the custom annotations over them.
        public var all: [String: String] {
            var out = [OCIArtifact.createdAnnotation: created, OCIArtifact.sourceAnnotation: source, OCIArtifact.revisionAnnotation: revision]
            for (k, v) in annotations { out[k] = v }
            return out
        }
    }

    // MARK: build

    /// The tar.gz of `path` as fluxcd/pkg/oci builds it: a directory walked in lexical order from its root entry
    /// `.`, or a single file under a `.` of mode 0700; paths matching `ignore` (gitignore lines, relative to the
    /// root) left out, symlinks and special files skipped unless `resolveSymlinks` copies their targets; modes kept,
    /// owners and times zeroed.
    /// A single file's artifact from bytes (flux's `--path -`, stdin saved to a file).
    public static func build(file name: String, data: [UInt8], mode: Int, ignore: [String]) throws -> [UInt8] {
        let filter = SourceIgnore(only: SourceIgnore.read(ignore.joined(separator: "\n")))
        let w = try TarGzWriter()
        try w.append(Tar.Entry(path: ".", kind: .directory, mode: 0o700))
        if !filter.ignores(name, isDir: false) { try w.append(Tar.Entry(path: name, kind: .file, mode: mode, data: data)) }
        return try w.finish()
    }

    public static func build(path: String, ignore: [String], resolveSymlinks: Bool = false) throws -> [UInt8] {
        let root = Files.absolute(path)
        var st = stat()
        guard stat(root, &st) == 0 else { throw Failure("source path does not exist: \(root)") }
        let filter = SourceIgnore(only: SourceIgnore.read(ignore.joined(separator: "\n")))
        let w = try TarGzWriter()
        if (st.st_mode & S_IFMT) == S_IFREG {
            try w.append(Tar.Entry(path: ".", kind: .directory, mode: 0o700))
            let name = String(root.split(separator: "/").last ?? "")
            if !filter.ignores(name, isDir: false) {
                try w.append(Tar.Entry(path: name, kind: .file, mode: Int(st.st_mode & 0o7777), data: try Files.read(root)))
            }
            return try w.finish()
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw Failure("invalid source path \(root): not a directory or a regular file") }
        try w.append(Tar.Entry(path: ".", kind: .directory, mode: resolveSymlinks ? 0o700 : Int(st.st_mode & 0o7777)))
        var visiting: Set<String> = []
        func walk(_ dir: String, _ rel: String) throws {
            if resolveSymlinks {
                guard let real = realpath(dir, nil) else { throw Failure("resolving symlink \(dir): \(String(cString: strerror(errno)))") }
                let r = String(cString: real)
                free(real)
                if visiting.contains(r) { return }   // a cycle: copyDir stops there too
                visiting.insert(r)
            }
            defer { if resolveSymlinks, let real = realpath(dir, nil) { visiting.remove(String(cString: real)); free(real) } }
            let names: [String]
            do { names = try Files.entries(dir) } catch { throw Failure("cannot read \(dir): \(error)") }
            for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                let full = dir + "/" + name
                let r = rel.isEmpty ? name : rel + "/" + name
                var s = stat()
                let ok = resolveSymlinks ? stat(full, &s) : lstat(full, &s)
                guard ok == 0 else {
                    if resolveSymlinks { throw Failure("resolving symlink \(full): \(String(cString: strerror(errno)))") }
                    continue
                }
                let type = s.st_mode & S_IFMT
                guard type == S_IFDIR || type == S_IFREG else { continue }
                if filter.ignores(r, isDir: type == S_IFDIR) { continue }
                if type == S_IFDIR {
                    try w.append(Tar.Entry(path: r, kind: .directory, mode: Int(s.st_mode & 0o7777)))
                    try walk(full, r)
                } else {
                    try w.append(Tar.Entry(path: r, kind: .file, mode: Int(s.st_mode & 0o7777), data: try Files.read(full)))
                }
            }
        }
        try walk(root, "")
        return try w.finish()
    }

    // MARK: push

    /// The config blob go-containerregistry writes for flux's artifact (an empty image config with the creation
    /// time, the layer's diff ID and one empty history entry), in Go's field order.
    static func config(created: String, diffID: String) -> [UInt8] {
        Array(("{\"architecture\":\"\",\"created\":\(JSON.quote(created)),\"history\":[{\"created\":\"0001-01-01T00:00:00Z\"}],\"os\":\"\","
               + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\(JSON.quote(diffID))]},\"config\":{}}").utf8)
    }

    static func descriptorJSON(_ d: OCIDescriptor) -> String {
        "{\"mediaType\":\(JSON.quote(d.mediaType)),\"size\":\(d.size),\"digest\":\(JSON.quote(d.digest))}"
    }

    /// The image manifest of an artifact, as go-containerregistry marshals v1.Manifest (annotations sorted).
    static func manifest(config: OCIDescriptor, layer: OCIDescriptor, annotations: [String: String]) -> [UInt8] {
        let ann = annotations.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            .map { "\(JSON.quote($0.key)):\(JSON.quote($0.value))" }.joined(separator: ",")
        return Array(("{\"schemaVersion\":2,\"mediaType\":\"\(OCIManifest.ociManifest)\",\"config\":\(descriptorJSON(config)),"
                      + "\"layers\":[\(descriptorJSON(layer))],\"annotations\":{\(ann)}}").utf8)
    }

    /// RFC 3339 in UTC to the second (Go's time.RFC3339 of time.Now().UTC()).
    public static func now() -> String {
        Clock.rfc3339()
    }

    /// Pushes an artifact layer (a tar.gz) under the client's repository and `tag`: layer and config blobs, then the
    /// manifest. Returns the manifest's digest.
    public static func push(_ client: RegistryClient, tag: String, layer: [UInt8], metadata: Metadata) throws -> String {
        var meta = metadata
        if meta.created.isEmpty { meta.created = now() }
        var annotations = meta.all
        if (annotations[createdAnnotation] ?? "").isEmpty { annotations[createdAnnotation] = meta.created }
        let created = annotations[createdAnnotation]!
        guard Clock.parse(created) != nil else { throw Failure("invalid created timestamp \"\(created)\"") }
        let tar: [UInt8]
        do { tar = try Gzip.decompress(layer, limit: Int.max) } catch { throw Failure("the artifact layer is not gzip: \(error)") }
        let cfg = config(created: created, diffID: OCIDigest.of(tar))
        client.push = true
        var layerDesc = try client.putBlob(layer)
        layerDesc.mediaType = contentMediaType
        var cfgDesc = try client.putBlob(cfg)
        cfgDesc.mediaType = configMediaType
        let m = manifest(config: cfgDesc, layer: layerDesc, annotations: annotations)
        return try client.putManifest(m, mediaType: OCIManifest.ociManifest, reference: tag)
    }

    // MARK: pull

    /// The artifact a tag or digest names: its manifest (an index is refused: artifacts are single manifests).
    public static func manifest(_ client: RegistryClient, _ reference: String) throws -> OCIManifest {
        let m = try client.manifest(reference)
        if m.isIndex {
            throw Failure("\(client.registry)/\(client.repository):\(reference) is an image index, not a Flux artifact (one manifest with layers)")
        }
        return m
    }

    /// True when bytes start as gzip does (go-containerregistry's check before untarring a layer).
    public static func isGzip(_ b: [UInt8]) -> Bool { b.count >= 2 && b[0] == 0x1f && b[1] == 0x8b }

    /// Extracts a tar.gz into `dir` as fluxcd/pkg/tar's Untar: directories 0750, files with their modes, paths
    /// leaving `dir` refused, symlinks skipped. Entries are checked before anything is written: a bad archive
    /// writes nothing.
    public static func extract(_ tgz: [UInt8], into dir: String, maxSize: Int) throws {
        var entries: [Tar.Entry] = []
        do { entries = try Tar.read(gzip: tgz, maxSize: maxSize) } catch {
            throw Failure("the artifact layer cannot be extracted: \(error)")
        }
        try Files.makeDirectories(dir, mode: 0o750)
        for e in entries {
            let target = dir + "/" + e.path
            switch e.kind {
            case .directory:
                try Files.makeDirectories(target, mode: 0o750)
            case .file:
                try Files.makeDirectories(Files.dirname(target), mode: 0o750)
                try Files.writeAtomically(target, e.data, mode: mode_t(e.mode & 0o777))
            }
        }
    }
}

extension OCIArtifact {
    /// What differs between two artifact tarballs, entry by entry (path, kind, mode, contents): lines such as
    /// `changed: apps/app.yaml`, in path order; empty when they hold the same tree.
    public static func differences(local: [UInt8], remote: [UInt8], maxSize: Int) throws -> [String] {
        func index(_ b: [UInt8], _ what: String) throws -> [String: Tar.Entry] {
            var out: [String: Tar.Entry] = [:]
            do { try Tar.forEach(gzip: b, maxSize: maxSize) { out[$0.path] = $0 } } catch {
                throw Failure("the \(what) artifact cannot be read: \(error)")
            }
            return out
        }
        let l = try index(local, "local"), r = try index(remote, "remote")
        var lines: [String] = []
        for p in Set(l.keys).union(r.keys).sorted() {
            switch (l[p], r[p]) {
            case (let a?, nil): lines.append("added: \(a.path)")
            case (nil, let b?): lines.append("removed: \(b.path)")
            case (let a?, let b?):
                if a.kind != b.kind || a.data != b.data { lines.append("changed: \(p)") }
                else if a.mode & 0o7777 != b.mode & 0o7777 && p != "." { lines.append("mode changed: \(p) (\(String(b.mode & 0o7777, radix: 8)) -> \(String(a.mode & 0o7777, radix: 8)))") }
            default: break
            }
        }
        return lines
    }
}
