import FluxsYAML

/// A Kubernetes label selector string (`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma
/// separated, all must hold), matched against a labels or annotations map.
struct SelectorExpression {
    enum Requirement {
        case equals(String, String), notEquals(String, String), exists(String), notExists(String)
        case isIn(String, Set<String>), notIn(String, Set<String>)
    }

    struct ParseError: Error, CustomStringConvertible { var description: String }

    var requirements: [Requirement] = []

    init(_ s: String) throws {
        var parts: [String] = [], cur = "", depth = 0
        for c in s {
            if c == "(" { depth += 1 } else if c == ")" { depth -= 1 }
            if c == "," && depth == 0 { parts.append(cur); cur = "" } else { cur.append(c) }
        }
        parts.append(cur)
        for raw in parts {
            let p = raw.trimmingSpaces()
            if p.isEmpty { throw ParseError(description: "found '', expected: identifier in '\(s)'") }
            let words = p.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if words.count >= 3, words[1] == "in" || words[1] == "notin" {
                let list = words[2...].joined(separator: " ")
                guard list.hasPrefix("("), list.hasSuffix(")") else { throw ParseError(description: "found '\(list)', expected: '(' in '\(s)'") }
                let values = Set(list.dropFirst().dropLast().split(separator: ",").map { String($0).trimmingSpaces() })
                requirements.append(words[1] == "in" ? .isIn(words[0], values) : .notIn(words[0], values))
            } else if let r = p.firstRange(of: "!=") {
                requirements.append(.notEquals(String(p[..<r.lowerBound]).trimmingSpaces(), String(p[r.upperBound...]).trimmingSpaces()))
            } else if let r = p.firstRange(of: "==") ?? p.firstRange(of: "=") {
                requirements.append(.equals(String(p[..<r.lowerBound]).trimmingSpaces(), String(p[r.upperBound...]).trimmingSpaces()))
            } else if p.hasPrefix("!") {
                requirements.append(.notExists(String(p.dropFirst()).trimmingSpaces()))
            } else if words.count == 1 {
                requirements.append(.exists(p))
            } else {
                throw ParseError(description: "unable to parse requirement: '\(p)'")
            }
        }
    }

    func matches(_ map: Node?) -> Bool {
        func value(_ k: String) -> String? { map?[k]?.text }
        return requirements.allSatisfy { r in
            switch r {
            case .equals(let k, let v): return value(k) == v
            case .notEquals(let k, let v): return value(k) != v
            case .exists(let k): return value(k) != nil
            case .notExists(let k): return value(k) == nil
            case .isIn(let k, let vs): return value(k).map(vs.contains) ?? false
            case .notIn(let k, let vs): return value(k).map { !vs.contains($0) } ?? true
            }
        }
    }
}
