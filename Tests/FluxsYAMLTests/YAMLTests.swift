import XCTest
@testable import FluxsYAML

final class YAMLParseTests: XCTestCase {
    func testKeyOrderKeptAndMultiDocument() throws {
        let docs = try YAML.parseDocuments("b: 1\na: 2\n---\nkind: X\n---\n")
        XCTAssertEqual(docs.count, 2)
        XCTAssertEqual(docs[0].map?.keys, ["b", "a"])
        XCTAssertEqual(docs[1]["kind"]?.string, "X")
        XCTAssertEqual(try YAML.parseAll("a: 1\n---\n---\nb: 2\n").count, 3)
    }

    func testScalarTypingFollowsYAML12() throws {
        let d = try YAML.parse("""
        yes: yes
        on: on
        t: true
        n: null
        tilde: ~
        i: 42
        hex: 0x1F
        f: 1.5
        s: "42"
        q: '1'
        date: 2001-01-01
        """)
        XCTAssertEqual(d["yes"]?.string, "yes")
        XCTAssertEqual(d["on"]?.string, "on")
        XCTAssertEqual(d["t"]?.bool, true)
        XCTAssertTrue(d["n"]!.isNull)
        XCTAssertTrue(d["tilde"]!.isNull)
        XCTAssertEqual(d["i"]?.int, 42)
        XCTAssertEqual(d["hex"]?.int, 31)
        XCTAssertEqual(d["f"]?.double, 1.5)
        XCTAssertEqual(d["s"]?.string, "42")
        XCTAssertEqual(d["s"]?.scalarValue?.isQuoted, true)
        XCTAssertEqual(d["q"]?.scalarValue?.style, .singleQuoted)
        XCTAssertEqual(d["date"]?.scalarValue?.tag, .timestamp)
    }

    func testAnchorsAliasesAndMergeKeys() throws {
        let d = try YAML.parse("""
        base: &b {x: 1, y: 2}
        copy: *b
        merged:
          <<: *b
          y: 3
        """)
        XCTAssertEqual(d["copy"], d["base"])
        XCTAssertEqual(d["merged"]?["x"]?.int, 1)
        XCTAssertEqual(d["merged"]?["y"]?.int, 3)
    }

    func testBlockAndFlowScalars() throws {
        let d = try YAML.parse("lit: |\n  a\n  b\nfold: >\n  a\n  b\nflow: [1, 'two', {three: 3}]\n")
        XCTAssertEqual(d["lit"]?.string, "a\nb\n")
        XCTAssertEqual(d["fold"]?.string, "a b\n")
        XCTAssertEqual(d["flow"]?[2]?["three"]?.int, 3)
    }

    func testMalformedInputReportsFileLineAndColumn() {
        XCTAssertThrowsError(try YAML.parse("a: 1\nb: [1, 2\nc: 3\n", file: "broken.yaml")) { e in
            let err = e as! YAMLError
            XCTAssertEqual(err.file, "broken.yaml")
            XCTAssertGreaterThan(err.line, 1)
            XCTAssertGreaterThan(err.column, 0)
            XCTAssertTrue(err.description.hasPrefix("broken.yaml:\(err.line):\(err.column): "), err.description)
        }
        XCTAssertThrowsError(try YAML.parse("a: 1\na: 2\n", file: "dup.yaml")) { e in
            XCTAssertTrue("\(e)".contains("mapping key \"a\" already defined at line 1"), "\(e)")
        }
        XCTAssertThrowsError(try YAML.parse("a: *nope\n"))
        XCTAssertThrowsError(try YAML.parse("\t- bad"))
    }
}

final class YAMLEmitTests: XCTestCase {
    func emit(_ text: String) throws -> String { try YAMLEmitter().emit(try YAML.parse(text)) }

    func testSortedKeysAndIndentlessSequences() throws {
        XCTAssertEqual(try emit("z: 1\na:\n- x\n- y\nm: {}\n"), "a:\n- x\n- \"y\"\nm: {}\nz: 1\n")
    }

    func testQuotingLikeYAMLv2() throws {
        XCTAssertEqual(try emit("a: 'yes'\nb: '1.0'\nc: '*'\nd: ''\ne: 'plain text'\n"),
                       "a: \"yes\"\nb: \"1.0\"\nc: '*'\nd: \"\"\ne: plain text\n")
    }

    func testMultilineStringsAsLiteralBlocks() throws {
        XCTAssertEqual(try emit("a: \"x\\ny\\n\"\nb: \"x\\ny\"\n"), "a: |\n  x\n  y\nb: |-\n  x\n  y\n")
    }

    func testNumbersNormalisedThroughJSON() throws {
        XCTAssertEqual(try emit("a: 1.0\nb: 0x10\nc: 1e3\nd: 0.5\n"), "a: 1\nb: 16\nc: 1000\nd: 0.5\n")
    }

    func testGoKeyOrder() {
        // order read off `kubectl kustomize` for these keys
        let want = ["-y", "_x", "1", "01", "001", "B", "a", "a9", "a10", "b", "x-y", "x.y", "x_y"]
        XCTAssertEqual(want.reversed().sorted(by: Resolver.goKeyLess), want)
        XCTAssertEqual(want.shuffled().sorted(by: Resolver.goKeyLess), want)
    }

    func testRoundTripKeepsValue() throws {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: |\n    line\n"
        let node = try YAML.parse(text)
        XCTAssertEqual(try YAML.parse(try node.yamlString()), node)
    }
}

final class JSONTests: XCTestCase {
    func testDecodeKeepsOrderAndTypes() throws {
        let n = try JSON.decode(#"{"b":1,"a":[true,null,1.5,"s\u00e9\n"],"big":12345678901234567890}"#)
        XCTAssertEqual(n.map?.keys, ["b", "a", "big"])
        XCTAssertEqual(n["a"]?[0]?.bool, true)
        XCTAssertTrue(n["a"]![1]!.isNull)
        XCTAssertEqual(n["a"]?[2]?.double, 1.5)
        XCTAssertEqual(n["a"]?[3]?.string, "sé\n")
        XCTAssertEqual(try n.jsonString(), #"{"b":1,"a":[true,null,1.5,"sé\n"],"big":12345678901234567890}"#)
    }

    func testGoStyleEscaping() throws {
        XCTAssertEqual(try Node.string("<a&b>").jsonString(), #""\u003ca\u0026b\u003e""#)
        XCTAssertEqual(try Node.map([("k", .int(1))]).jsonString(indent: "  "), "{\n  \"k\": 1\n}")
    }

    func testYAMLToJSONToYAML() throws {
        let y = try YAML.parse("a: 1\nb: [x, 'y']\nc: {d: null}\n")
        let j = try JSON.decode(try y.jsonString())
        XCTAssertEqual(j, y)
    }

    func testMalformedJSON() {
        XCTAssertThrowsError(try JSON.decode("{\"a\": 1,\n \"b\": }", file: "x.json")) { e in
            XCTAssertEqual((e as! YAMLError).line, 2)
        }
        XCTAssertThrowsError(try JSON.decode("[1, 2"))
        XCTAssertThrowsError(try JSON.decode("{} extra"))
    }

    func testBase64() {
        XCTAssertEqual(Base64.encode("hunter2"), "aHVudGVyMg==")
        XCTAssertEqual(Base64.decode("aHVudGVyMg==").map { String(decoding: $0, as: UTF8.self) }, "hunter2")
        XCTAssertNil(Base64.decode("a*b"))
    }
}

final class MappingTests: XCTestCase {
    /// Small mappings are searched, large ones indexed: both must keep order, find, replace and remove alike.
    func testSmallAndIndexedMappingsAgree() {
        for n in [3, Mapping.indexedFrom, Mapping.indexedFrom + 1, 40] {
            var m = Mapping()
            for i in 0..<n { m["k\(i)"] = .int(i) }
            XCTAssertEqual(m.keys, (0..<n).map { "k\($0)" })
            for i in 0..<n { XCTAssertEqual(m["k\(i)"]?.int, i, "n=\(n)") }
            XCTAssertNil(m["k\(n)"])
            m["k1"] = "one"
            XCTAssertEqual(m.keys.count, n)
            XCTAssertEqual(m["k1"]?.string, "one")
            m["k0"] = nil
            XCTAssertEqual(m.keys.first, "k1")
            for i in 1..<n { XCTAssertEqual(m["k\(i)"] != nil, true, "n=\(n) i=\(i)") }
            XCTAssertEqual(m["k2"]?.int, 2)
            m.withValue("k2") { $0 = .bool(true) }
            XCTAssertEqual(m["k2"]?.bool, true)
            var r = m
            r.reorder(m.keys.reversed())
            XCTAssertEqual(r.keys, m.keys.reversed())
            XCTAssertEqual(r["k1"]?.string, "one")
            XCTAssertEqual(r, m)
            XCTAssertEqual(r.hashValue, m.hashValue)
            r.sortKeys(by: >)
            XCTAssertEqual(r.keys, m.keys.sorted(by: >))
            XCTAssertEqual(r[r.keys[0]], m[r.keys[0]])
            r["k1"] = "other"
            XCTAssertNotEqual(r, m)
        }
    }

    func testDuplicateKeyInLargeMappingNamesItsLine() {
        let text = (0..<30).map { "k\($0): \($0)\n" }.joined() + "k3: again\n"
        XCTAssertThrowsError(try YAML.parse(text)) { e in
            XCTAssertTrue("\(e)".contains("mapping key \"k3\" already defined at line 4"), "\(e)")
        }
        XCTAssertEqual(try YAML.parseLenient(text)["k3"]?.string, "again")
        XCTAssertEqual(try YAML.parseLenient(text).map?.keys.count, 30)
    }

    /// The byte comparison of ASCII keys and the scalar one agree; non-ASCII letters sort as letters.
    func testGoKeyOrderASCIIAndUnicode() {
        let want = ["0", "9", "10", "a", "a0", "a00", "a1", "ab", "b", "é", "éa"]
        XCTAssertEqual(want.reversed().sorted(by: Resolver.goKeyLess), want)
        XCTAssertTrue(Resolver.goKeysSorted(want))
        XCTAssertFalse(Resolver.goKeysSorted(["b", "a"]))
        XCTAssertEqual(try Node.map([("b", 1), ("a", 2), ("a10", 3), ("a9", 4)]).yamlString(), "a: 2\na9: 4\na10: 3\nb: 1\n")
    }
}
