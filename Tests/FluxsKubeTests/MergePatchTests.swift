import FluxsKube
import FluxsTestSupport
import FluxsYAML
import XCTest

/// MergePatch.diff: what changed, as a JSON merge patch (RFC 7386) that turns the first document into the second.
final class MergePatchTests: XCTestCase {
    func testEqualDocumentsGiveAnEmptyPatch() {
        let a: Node = ["lastHandledReconcileAt": "t1", "inventory": ["entries": [["id": "a", "v": "v1"]]], "observedGeneration": 2]
        XCTAssertTrue(MergePatch.isEmpty(MergePatch.diff(from: a, to: a)))
        // Key order is not a change.
        let b: Node = ["observedGeneration": 2, "inventory": ["entries": [["v": "v1", "id": "a"]]], "lastHandledReconcileAt": "t1"]
        XCTAssertTrue(MergePatch.isEmpty(MergePatch.diff(from: a, to: b)))
    }

    func testOnlyChangedFieldsNullsForRemovedListsWhole() {
        let before: Node = [
            "lastHandledReconcileAt": "t1",
            "inventory": ["entries": [["id": "a", "v": "v1"], ["id": "b", "v": "v1"]]],
            "conditions": [["type": "Ready", "status": "True"]],
            "lastAppliedOriginRevision": "x",
            "nested": ["keep": 1, "change": "old"],
        ]
        let after: Node = [
            "lastHandledReconcileAt": "t2",
            "inventory": ["entries": [["id": "a", "v": "v1"], ["id": "b", "v": "v1"]]],
            "conditions": [["type": "Ready", "status": "False"]],
            "nested": ["keep": 1, "change": "new"],
            "added": true,
        ]
        let patch = MergePatch.diff(from: before, to: after)
        let expected: Node = [
            "lastHandledReconcileAt": "t2",
            "conditions": [["type": "Ready", "status": "False"]],
            "nested": ["change": "new"],
            "added": true,
            "lastAppliedOriginRevision": .null,
        ]
        XCTAssertEqual(patch, expected)
        XCTAssertNil(patch["inventory"], "an unchanged inventory is not sent")
    }

    func testNonMapsAreReplacedWhole() {
        XCTAssertEqual(MergePatch.diff(from: ["a": 1], to: "text"), "text")
        XCTAssertEqual(MergePatch.diff(from: ["a": ["b": 1]], to: ["a": [1, 2]]), ["a": [1, 2]])
        XCTAssertEqual(MergePatch.diff(from: ["a": [1, 2]], to: ["a": [1, 3]]), ["a": [1, 3]])
    }

    /// RFC 7386 appendix A: the target, the patch and the result of each example.
    func testApplyGivesTheRFCExamplesResults() throws {
        let cases: [(String, String, String)] = [
            (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
            (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
            (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
            (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
            (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
            (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
            (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
            (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
            (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
            (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
            (#"{"a":"foo"}"#, #"null"#, #"null"#),
            (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
            (#"{"e":null}"#, #"{"a":1}"#, #"{"e":null,"a":1}"#),
            (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
            (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
        ]
        for (target, patch, result) in cases {
            let got = MergePatch.apply(try JSON.decode(patch), to: try JSON.decode(target))
            XCTAssertEqual(got, try JSON.decode(result), "\(target) + \(patch)")
        }
    }

    /// apply(diff(a, b), a) == b for generated documents (seeded): what a status write sends is what the server then
    /// has, which the reconciler takes as the object without reading it back.
    func testApplyOfDiffGivesTheSecondDocument() {
        var rng = SeededRandom(seed: 7386)
        func value(_ depth: Int) -> Node {
            switch Int.random(in: 0..<(depth > 2 ? 4 : 6), using: &rng) {
            case 0: return .string(["x", "y", "z"][Int.random(in: 0..<3, using: &rng)])
            case 1: return .int(Int.random(in: 0..<3, using: &rng))
            case 2: return .bool(Bool.random(using: &rng))
            case 3: return .sequence((0..<Int.random(in: 0..<3, using: &rng)).map { _ in value(depth + 1) })
            default: return doc(depth + 1)
            }
        }
        func doc(_ depth: Int) -> Node {
            var pairs: [(String, Node)] = []
            for k in ["a", "b", "c", "d"] where Bool.random(using: &rng) { pairs.append((k, value(depth))) }
            return .map(pairs)
        }
        for i in 0..<2000 {
            let a = doc(0), b = doc(0)
            XCTAssertEqual(MergePatch.apply(MergePatch.diff(from: a, to: b), to: a), b, "case \(i): \(a) -> \(b)")
            XCTAssertEqual(MergePatch.apply(MergePatch.diff(from: a, to: a), to: a), a, "case \(i): \(a) unchanged")
        }
    }
}
