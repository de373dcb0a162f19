import FluxsYAML

/// JSON merge patches (RFC 7386) computed from two versions of a document, as controller-runtime's
/// `client.MergeFrom` computes them for fluxcd/pkg's patch helper: only what changed is sent.
public enum MergePatch {
    /// The merge patch that turns `from` into `to`: the keys of `to` whose values differ (maps compared key by key,
    /// anything else, lists included, replaced whole) and null for the keys `from` has and `to` lacks. An empty map
    /// when they are equal. When either is not a map, `to` itself (a merge patch replaces a non-map whole).
    public static func diff(from: Node, to: Node) -> Node {
        guard let a = from.map, let b = to.map else { return to }
        var out: [(String, Node)] = []
        for (k, v) in zip(b.keys, b.values) {
            guard let old = a[k] else {
                out.append((k, v))
                continue
            }
            if old == v { continue }
            if old.map != nil, v.map != nil {
                let d = diff(from: old, to: v)
                if d.map?.isEmpty == false { out.append((k, d)) }
            } else {
                out.append((k, v))
            }
        }
        for k in a.keys where !b.contains(k) { out.append((k, .null)) }
        return .map(out)
    }

    /// The document `patch` makes of `target`, as an API server applies a merge patch (RFC 7386 MergePatch): a map
    /// patch changes a map key by key (null removes the key, a map merges into a map, anything else replaces);
    /// any other patch replaces the target whole. Nulls inside a value that replaces are removed too.
    public static func apply(_ patch: Node, to target: Node) -> Node {
        guard let p = patch.map else { return patch }
        var out = target.map ?? Mapping()
        for (k, v) in zip(p.keys, p.values) {
            if v.isNull { out[k] = nil } else { out[k] = apply(v, to: out[k] ?? .null) }
        }
        return .mapping(out)
    }

    /// True when the patch changes nothing (an empty map).
    public static func isEmpty(_ patch: Node) -> Bool { patch.map?.isEmpty == true }
}
