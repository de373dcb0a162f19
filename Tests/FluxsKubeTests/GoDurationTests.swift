import Foundation
import FluxsKube
import FluxsTestSupport
import XCTest

/// Go's time.ParseDuration and Duration.String, checked against Go itself: kubectl parses `--request-timeout` with
/// time.ParseDuration and sends it back formatted by Duration.String in the `timeout=` query it logs with -v=6, and
/// reports pflag's ParseDuration error for `wait --timeout`. Inputs come from a seeded generator.
final class GoDurationTests: XCTestCase {
    /// Go's own table (time_test.go) for the edges of the range.
    func testGoTable() throws {
        let ok: [(String, Int64)] = [
            ("0", 0), ("-0", 0), ("+5s", 5_000_000_000), ("5.s", 5_000_000_000), (".5s", 500_000_000), ("12µs", 12_000), ("12μs", 12_000),
            ("10.5s4m", 250_500_000_000), ("0.3333333333333333333h", 1_200_000_000_000), ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", Int64.max), ("9223372036854775.807us", Int64.max), ("9223372036854ms775us807ns", Int64.max),
            ("-9223372036854775808ns", Int64.min), ("-2562047h47m16.854775808s", Int64.min), ("2562047h47m16.854775807s", Int64.max),
            ("0.830103483285477580700h", 2_988_372_539_827),
        ]
        for (s, ns) in ok { XCTAssertEqual(try GoDuration.nanoseconds(s), ns, s) }
        for bad in ["", "3", "-", "s", ".", "-.", ".s", "+.s", "1d", "9223372036854775808ns", "9223372036854775.808us",
                    "9223372036854ms775us808ns", "-9223372036854775809ns", "2562048h", "3000000h", "1e13h"] {
            XCTAssertThrowsError(try GoDuration.nanoseconds(bad), bad)
        }
        XCTAssertEqual(GoDuration.format(nanoseconds: Int64.min), "-2562047h47m16.854775808s")
        XCTAssertEqual(GoDuration.format(1e20), "2562047h47m16.854775807s", "beyond the range prints the limit, never traps")
        XCTAssertThrowsError(try GoDuration.parse("3000000h")) { XCTAssertEqual("\($0)", "time: invalid duration \"3000000h\"") }
        XCTAssertThrowsError(try GoDuration.parse("1µx")) { XCTAssertEqual("\($0)", "time: unknown unit \"\\xc2\\xb5x\" in duration \"1\\xc2\\xb5x\"") }
    }

    static func generate(_ seed: UInt64, count: Int) -> [String] {
        var state = seed
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        let units = ["ns", "us", "µs", "ms", "s", "m", "h", "h", "s", "", "d"]
        var out: [String] = []
        while out.count < count {
            var s = ["", "", "-", "+"][next(4)]
            for _ in 0..<(1 + next(3)) {
                let digits = [0, 1, 2, 3, 7, 13, 19, 20][next(8)]
                s += String((0..<digits).map { _ in Character(String(next(10))) })
                if next(3) == 0 { s += "." + String((0..<[0, 1, 3, 9, 21][next(5)]).map { _ in Character(String(next(10))) }) }
                s += units[next(units.count)]
            }
            // kubectl reads a bare integer as seconds; those are not Go durations to compare.
            if s.isEmpty || s.allSatisfy({ $0.isNumber || $0 == "-" || $0 == "+" }) { continue }
            out.append(s)
        }
        return out
    }

    func testGeneratedAgainstGo() throws {
        guard (try? TestEnv.run("kubectl", ["version", "--client"]))?.status == 0 else { throw XCTSkip("kubectl is not installed") }
        let home = try TestEnv.tempDir("fluxs-kubectl-home")
        defer { try? FileManager.default.removeItem(at: home) }
        var valid = 0, invalid = 0
        for s in Self.generate(2562047, count: 36) {
            let r = try TestEnv.run("kubectl", ["get", "ns", "default", "--server=http://127.0.0.1:1", "--request-timeout=\(s)", "-v=6"],
                                    env: ["HOME": home.path], removeEnv: ["KUBECONFIG"])
            let goValue = r.stderr.range(of: #"timeout=[^ &"]+"#, options: .regularExpression)
                .map { String(r.stderr[$0].dropFirst("timeout=".count)).removingPercentEncoding ?? "" }
            let ours = try? GoDuration.nanoseconds(s)
            if r.stderr.contains("Invalid timeout value") {
                XCTAssertNil(ours, "\(s): Go refuses it")
                invalid += 1
                // The message is Go's too.
                let w = try TestEnv.run("kubectl", ["wait", "--timeout=\(s)", "--for=delete", "ns/x", "--server=http://127.0.0.1:1"],
                                        env: ["HOME": home.path], removeEnv: ["KUBECONFIG"])
                if let line = w.stderr.split(separator: "\n").first(where: { $0.contains("--timeout\" flag: ") }),
                   let r = line.range(of: "--timeout\" flag: ") {
                    XCTAssertThrowsError(try GoDuration.nanoseconds(s)) { XCTAssertEqual("\($0)", String(line[r.upperBound...]), s) }
                }
            } else if let ours {
                valid += 1
                // Go leaves a zero or negative timeout out of the query.
                if ours > 0 { XCTAssertEqual(GoDuration.format(nanoseconds: ours), goValue, s) }
            } else {
                XCTFail("\(s): Go accepts it (\(goValue ?? "no timeout")), fluxs does not")
            }
        }
        XCTAssertGreaterThan(valid, 8)
        XCTAssertGreaterThan(invalid, 8)
    }
}
