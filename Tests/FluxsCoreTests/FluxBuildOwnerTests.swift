import XCTest
@testable import FluxsCore
import FluxsTestSupport
import FluxsYAML

/// FluxBuild's owner labels and commonMetadata, set in place with the labels made once a build, give what the
/// copy-and-set-back way gives (kept here as the reference) on seeded objects: metadata, labels and annotations
/// missing, null, scalars, sequences or mappings with keys that commonMetadata or the owner labels overwrite.
final class FluxBuildOwnerTests: XCTestCase {
    /// The way owner labels were set before (copied out, changed, set back along the path per object).
    static func reference(_ o: inout Node, spec: Node, name: String, namespace: String) {
        var labels = o["metadata"]?["labels"]?.map ?? Mapping()
        for (k, v) in spec["commonMetadata"]?["labels"]?.map?.entries ?? [] { labels[k] = v }
        labels["kustomize.toolkit.fluxcd.io/name"] = .string(name)
        labels["kustomize.toolkit.fluxcd.io/namespace"] = .string(namespace)
        o.set(["metadata", "labels"], .mapping(labels))
        if let anns = spec["commonMetadata"]?["annotations"]?.map, !anns.isEmpty {
            var a = o["metadata"]?["annotations"]?.map ?? Mapping()
            for (k, v) in anns.entries { a[k] = v }
            o.set(["metadata", "annotations"], .mapping(a))
        }
    }

    func testOwnerLabelsAsTheReference() {
        var rng = SeededRandom(seed: 4242)
        let keys = ["a", "b", "app", "kustomize.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/namespace", "team"]
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        func pairs() -> Node {
            var m = Mapping()
            for _ in 0..<Int(rng.next() % 4) { m[pick(keys)] = .string(pick(["x", "y", "", "1"])) }
            return .mapping(m)
        }
        func field() -> Node? { pick([nil, .null, .string("s"), .sequence([.string("i")]), .emptyMap, pairs(), pairs()]) }
        var checked = 0
        for _ in 0..<3000 {
            var meta: Node? = pick([nil, .null, .string("m"), .emptyMap, .emptyMap, .emptyMap])
            if case .mapping = meta {
                if rng.next() % 2 == 0 { meta?["name"] = "obj" }
                if let l = field() { meta?["labels"] = l }
                if let a = field() { meta?["annotations"] = a }
                if rng.next() % 2 == 0 { meta?["namespace"] = "ns" }
            }
            var doc: Node = pick([.emptyMap, .emptyMap, .emptyMap, .string("scalar"), .sequence([])])
            if case .mapping = doc {
                doc["apiVersion"] = "v1"
                if rng.next() % 3 == 0 { doc["kind"] = "ConfigMap" }
                if let meta { doc["metadata"] = meta }
                if rng.next() % 3 == 0 { doc["data"] = pairs() }
            }
            var common = Mapping()
            if rng.next() % 2 == 0, let l = field() { common["labels"] = l }
            if rng.next() % 2 == 0, let a = field() { common["annotations"] = a }
            var k: Node = ["metadata": ["name": .string(pick(["app", "x"])), "namespace": .string(pick(["flux-system", ""]))], "spec": .emptyMap]
            if !common.isEmpty { k["spec"] = .map([("commonMetadata", .mapping(common))]) }
            let build = FluxBuild(kustomization: k, path: "/nonexistent")
            var expected = doc
            Self.reference(&expected, spec: build.spec, name: build.name, namespace: build.namespace)
            var got = doc
            build.owner(&got)
            // Equal as YAML text: key order and scalar styles count.
            XCTAssertEqual(try YAMLEmitter(sortKeys: false).emit(got), try YAMLEmitter(sortKeys: false).emit(expected), "\(doc) with \(k)")
            checked += 1
        }
        XCTAssertEqual(checked, 3000)
    }
}
