import CGit2
import FluxsYAML
import Glibc

// Writing to a mirror: packs fetched by fluxs itself, refs, git's `shallow` file, and commits built from a parent's
// tree with some files replaced (image updates, bootstrap).

extension Repository {
    /// Stores a pack (as sent by upload-pack) in the repository's object database, indexed.
    public func addPack(_ pack: [UInt8]) throws {
        guard !pack.isEmpty else { return }
        let w = try PackWriter(self)
        try w.append(pack)
        try w.commit()
    }

    /// Points `name` at `id` (created or moved).
    public func setRef(_ name: String, to id: ObjectID) throws {
        var oid = id.raw
        var ref: OpaquePointer?
        try check(git_reference_create(&ref, handle, name, &oid, 1, "fluxs fetch"), "update \(name)")
        git_reference_free(ref)
    }

    /// The commits where the mirror's history is cut (git's `shallow` file); empty for a complete mirror.
    public var shallowCommits: [ObjectID] {
        guard let f = fopen(path.trimmingSuffix("/") + "/shallow", "r") else { return [] }
        defer { fclose(f) }
        var out: [ObjectID] = []
        var line = [CChar](repeating: 0, count: 128)
        while fgets(&line, 128, f) != nil {
            if let id = ObjectID(hex: String(cString: line).trimming(" \t\n\r")) { out.append(id) }
        }
        return out
    }

    /// Records the shallow boundary (written whole, then renamed into place).
    public func writeShallow(_ ids: [ObjectID]) throws {
        let target = path.trimmingSuffix("/") + "/shallow"
        if ids.isEmpty { unlink(target); return }
        let tmp = target + ".tmp"
        guard let f = fopen(tmp, "w") else { throw GitError(.other, "cannot write \(tmp)") }
        for id in ids { fputs(id.hex + "\n", f) }
        fclose(f)
        guard rename(tmp, target) == 0 else { throw GitError(.other, "cannot write \(target)") }
    }

    /// Commits the mirror's refs point at (the `have`s of a fetch).
    public func refTips() -> [ObjectID] {
        var names = git_strarray()
        guard git_reference_list(&names, handle) == 0 else { return [] }
        defer { git_strarray_dispose(&names) }
        var out: [ObjectID] = []
        for i in 0..<names.count {
            guard let n = names.strings[i], let id = resolve(String(cString: n)), let c = peelToCommit(id) else { continue }
            if !out.contains(c.id) { out.append(c.id) }
        }
        return out
    }
}

extension Repository {
    /// A new commit whose tree is `parent`'s (an empty tree for a first commit) with `files` (path, content,
    /// executable) written; `ref`, when given, is moved to it. Returns the new commit's id.
    /// With `sign`, the commit carries the signature `sign` makes of the commit's text (an armored OpenPGP or SSH
    /// signature, stored as the `gpgsig` header, as git stores both).
    public func commit(on parent: Commit?, replacing files: [(path: String, content: [UInt8], executable: Bool)],
                       author: String, email: String, message: String, ref: String?,
                       sign: ((String) throws -> String)? = nil) throws -> ObjectID {
        var tree: OpaquePointer?
        if let parent {
            try check(git_commit_tree(&tree, parent.handle), "tree of \(parent.id)")
        } else {
            var builder: OpaquePointer?
            try check(git_treebuilder_new(&builder, handle, nil), "empty tree")
            defer { git_treebuilder_free(builder) }
            var empty = git_oid()
            try check(git_treebuilder_write(&empty, builder), "empty tree")
            try check(git_tree_lookup(&tree, handle, &empty), "empty tree")
        }
        defer { git_tree_free(tree) }
        var blobIDs: [git_oid] = []
        for f in files {
            var oid = git_oid()
            try f.content.withUnsafeBytes { raw in
                try check(git_blob_create_from_buffer(&oid, handle, raw.baseAddress, raw.count), "blob \(f.path)")
            }
            blobIDs.append(oid)
        }
        let paths = files.map { strdup($0.path) }
        defer { paths.forEach { free($0) } }
        var updates: [git_tree_update] = files.indices.map { i in
            git_tree_update(action: GIT_TREE_UPDATE_UPSERT, id: blobIDs[i],
                            filemode: files[i].executable ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB, path: paths[i])
        }
        var newTreeID = git_oid()
        try check(git_tree_create_updated(&newTreeID, handle, tree, updates.count, &updates), "new tree")
        var newTree: OpaquePointer?
        try check(git_tree_lookup(&newTree, handle, &newTreeID), "new tree")
        defer { git_tree_free(newTree) }
        var sig: UnsafeMutablePointer<git_signature>?
        try check(git_signature_now(&sig, author, email), "signature")
        defer { git_signature_free(sig) }
        var out = git_oid()
        var parents: [OpaquePointer?] = parent.map { [$0.handle] } ?? []
        if let sign {
            var buf = git_buf()
            defer { git_buf_dispose(&buf) }
            try parents.withUnsafeMutableBufferPointer { p in
                try check(git_commit_create_buffer(&buf, handle, sig, sig, nil, message, newTree, p.count, p.baseAddress), "commit")
            }
            let content = buf.ptr.map { String(cString: $0) } ?? ""
            let signature = try sign(content)
            try check(git_commit_create_with_signature(&out, handle, content, signature, "gpgsig"), "signed commit")
            if let ref { try setRef(ref, to: ObjectID(out)) }
            return ObjectID(out)
        }
        try parents.withUnsafeMutableBufferPointer { p in
            try check(git_commit_create(&out, handle, ref, sig, sig, nil, message, newTree, p.count, p.baseAddress), "commit")
        }
        return ObjectID(out)
    }
}

extension Commit {
    /// The content of the file at `path` in this commit's tree, if there is one.
    public func file(_ path: String) -> [UInt8]? {
        var tree: OpaquePointer?
        guard git_commit_tree(&tree, handle) == 0 else { return nil }
        defer { git_tree_free(tree) }
        var entry: OpaquePointer?
        guard git_tree_entry_bypath(&entry, tree, path) == 0 else { return nil }
        defer { git_tree_entry_free(entry) }
        var blob: OpaquePointer?
        guard git_blob_lookup(&blob, repo.handle, git_tree_entry_id(entry)) == 0 else { return nil }
        defer { git_blob_free(blob) }
        let size = Int(git_blob_rawsize(blob))
        guard size > 0, let p = git_blob_rawcontent(blob) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: p, count: size))
    }
}

/// A pack written into a repository as it arrives (libgit2's indexer: objects go to disk, not to memory).
public final class PackWriter {
    private let handle: OpaquePointer
    private var stats = git_indexer_progress()
    private var bytes = 0

    public init(_ repo: Repository) throws {
        var opts = git_indexer_options()
        try check(git_indexer_options_init(&opts, UInt32(GIT_INDEXER_OPTIONS_VERSION)), "indexer options")
        var idx: OpaquePointer?
        try check(git_indexer_new(&idx, repo.path.trimmingSuffix("/") + "/objects/pack", 0, nil, &opts), "indexer")
        handle = idx!
    }

    deinit { git_indexer_free(handle) }

    public func append(_ data: [UInt8]) throws {
        guard !data.isEmpty else { return }
        bytes += data.count
        try data.withUnsafeBytes { raw in
            try check(git_indexer_append(handle, raw.baseAddress, raw.count, &stats), "indexing the fetched pack")
        }
    }

    /// Finishes the pack (its index is written); nothing when no data came.
    public func commit() throws {
        guard bytes > 0 else { return }
        try check(git_indexer_commit(handle, &stats), "indexing the fetched pack")
    }
}
