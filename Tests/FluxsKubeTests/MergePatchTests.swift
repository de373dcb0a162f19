import FluxsKube
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
}
