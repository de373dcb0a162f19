import FluxsKube
import FluxsKustomize
import FluxsYAML

/// What kube-apiserver refuses in any object, checked before anything is sent, so the error names the file the
/// object came from (the API server can only name the object): names and namespaces by kind (k8s.io/apimachinery
/// pkg/util/validation and pkg/api/validate/content; per kind, kubernetes pkg/apis/*/validation), label and
/// annotation keys and values, the annotations' total size, and objects that appear twice. The rules are in
/// docs/security.md.
enum ManifestChecks {
    struct Problem {
        var index: Int
        var message: String
        /// For an object defined twice: the first definition.
        var first: Int?
    }

    /// Fails with one line naming the file and the object; `build` is asked for the files only when something is
    /// wrong (it builds again with origin annotations).
    static func check(_ objects: [Node], build: FluxBuild) throws {
        let problems = self.problems(objects)
        guard let first = problems.first else { return }
        let files = build.origins()
        func file(_ i: Int) -> String? { i < files.count ? files[i] : nil }
        var text = (file(first.index).map { $0 + ": " } ?? "") + first.message
        if let j = first.first {
            text += " (first in \(file(j) ?? "a generated object"), again in \(file(first.index) ?? "a generated object"))"
        }
        throw FluxBuild.Failure(text + (problems.count > 1 ? " (and \(problems.count - 1) more)" : ""))
    }

    static func problems(_ objects: [Node]) -> [Problem] {
        var out: [Problem] = []
        var seen: [String: Int] = [:]
        // Every object carries the same owner labels: each key and value is checked once.
        var keyErrors: [String: [String]] = [:], valueErrors: [String: [String]] = [:], annotationErrors: [String: [String]] = [:]
        var namespaceErrors: [String: [String]] = [:]
        func memo(_ cache: inout [String: [String]], _ s: String, _ check: (String) -> [String]) -> [String] {
            if let e = cache[s] { return e }
            let e = check(s)
            cache[s] = e
            return e
        }
        for (i, o) in objects.enumerated() {
            if o["metadata"]?["annotations"]?["kustomize.toolkit.fluxcd.io/reconcile"]?.string == "disabled" { continue }
            let kind = o["kind"]?.string ?? ""
            let apiVersion = o["apiVersion"]?.string ?? ""
            // (by the "/"'s UTF-8 offset: String.contains(String) costs ~3 K instructions, and this runs per object)
            let group = apiVersion.utf8.firstIndex(of: UInt8(ascii: "/")).map { String(apiVersion[..<$0]) } ?? ""
            let name = o["metadata"]?["name"]?.string ?? ""
            let namespace = o["metadata"]?["namespace"]?.string ?? ""
            var errors: [String] = []
            func invalid(_ field: String, _ value: String, _ why: [String]) {
                for w in why { errors.append("\(field): Invalid value: \(quote(value)): \(w)") }
            }
            invalid("metadata.name", name, nameErrors(name, kind: kind, group: group, object: o))
            if !namespace.isEmpty { invalid("metadata.namespace", namespace, memo(&namespaceErrors, namespace, dns1123Label)) }
            for (k, v) in o["metadata"]?["labels"]?.map?.entries ?? [] {
                invalid("metadata.labels", k, memo(&keyErrors, k, qualifiedName))
                invalid("metadata.labels", v.text ?? "", memo(&valueErrors, v.text ?? "", labelValue))
            }
            var annotationBytes = 0
            for (k, v) in o["metadata"]?["annotations"]?.map?.entries ?? [] {
                invalid("metadata.annotations", k, memo(&annotationErrors, k) { qualifiedName($0.lowercased()) })
                annotationBytes += k.utf8.count + (v.text ?? "").utf8.count
            }
            if annotationBytes > 256 * 1024 {
                errors.append("metadata.annotations: Too long: may not be more than 262144 bytes")
            }
            if !errors.isEmpty {
                out.append(Problem(index: i, message: "\(kind) \(quote(name)) is invalid: " + errors.joined(separator: ", "), first: nil))
            }
            var id = group
            id += "/"; id += kind; id += "/"; id += namespace; id += "/"; id += name
            if let j = seen[id] {
                out.append(Problem(index: i, message: "\(subject(kind, namespace, name)) is defined twice; Kubernetes keeps one object per kind, namespace and name", first: j))
            } else {
                seen[id] = i
            }
        }
        return out
    }

    static func subject(_ kind: String, _ ns: String, _ name: String) -> String {
        ns.isEmpty ? "\(kind)/\(name)" : "\(kind)/\(ns)/\(name)"
    }

    /// Go's %q for the printable strings names are.
    static func quote(_ s: String) -> String {
        "\"" + s.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }

    // MARK: the rules

    /// The name rule of a kind: Namespace a DNS-1123 label, Service a DNS-1035 label, RBAC objects a path segment,
    /// a CustomResourceDefinition `<plural>.<group>`, everything else (custom resources included) a DNS-1123
    /// subdomain.
    static func nameErrors(_ name: String, kind: String, group: String, object: Node) -> [String] {
        if name.isEmpty { return ["name or generateName is required"] }
        switch (group, kind) {
        case ("", "Namespace"): return dns1123Label(name)
        case ("", "Service"): return dns1035Label(name)
        case ("rbac.authorization.k8s.io", _): return pathSegment(name)
        case ("apiextensions.k8s.io", "CustomResourceDefinition"):
            let errs = dns1123Subdomain(name)
            if !errs.isEmpty { return errs }
            let plural = object["spec"]?["names"]?["plural"]?.string ?? ""
            let crdGroup = object["spec"]?["group"]?.string ?? ""
            return name == plural + "." + crdGroup ? [] : ["must be spec.names.plural+\".\"+spec.group"]
        default: return dns1123Subdomain(name)
        }
    }

    static let labelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"

    /// On UTF-8 bytes (any non-ASCII byte fails, as a non-ASCII Character does): the checks run for every label of
    /// every object, and Character classification cost a no-op reconcile a fifth of its instructions.
    static func isLabel(_ s: Substring, firstLetter: Bool = false) -> Bool {
        let u = s.utf8
        guard let f = u.first, let l = u.last else { return false }
        func lower(_ c: UInt8) -> Bool { c >= 97 && c <= 122 }
        func alnum(_ c: UInt8) -> Bool { lower(c) || (c >= 48 && c <= 57) }
        guard firstLetter ? lower(f) : alnum(f), alnum(l) else { return false }
        return u.allSatisfy { alnum($0) || $0 == 45 }
    }

    static func dns1123Label(_ s: String) -> [String] {
        var errs: [String] = []
        if s.utf8.count > 63 { errs.append("must be no more than 63 characters") }
        if !isLabel(Substring(s)) {
            errs.append("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc', regex used for validation is '\(labelFmt)')")
        }
        return errs
    }

    static func dns1035Label(_ s: String) -> [String] {
        var errs: [String] = []
        if s.utf8.count > 63 { errs.append("must be no more than 63 characters") }
        if !isLabel(Substring(s), firstLetter: true) {
            errs.append("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name' or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
        }
        return errs
    }

    static func dns1123Subdomain(_ s: String) -> [String] {
        var errs: [String] = []
        if s.utf8.count > 253 { errs.append("must be no more than 253 characters") }
        if !isSubdomain(s) {
            errs.append("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '\(labelFmt)(\\.\(labelFmt))*')")
        }
        return errs
    }

    /// Every dot-separated part an RFC 1123 label (isLabel), read in one pass over the UTF-8 (no parts made).
    static func isSubdomain(_ s: String) -> Bool {
        func lower(_ c: UInt8) -> Bool { c >= 97 && c <= 122 }
        func alnum(_ c: UInt8) -> Bool { lower(c) || (c >= 48 && c <= 57) }
        var previous: UInt8 = UInt8(ascii: ".")   // the byte before: a part starts after a dot or at the start
        for c in s.utf8 {
            if c == UInt8(ascii: ".") {
                if !alnum(previous) { return false }   // an empty part, or one ending in '-'
            } else if previous == UInt8(ascii: ".") {
                if !alnum(c) { return false }   // a part starting with anything but a letter or digit
            } else if !(alnum(c) || c == UInt8(ascii: "-")) {
                return false
            }
            previous = c
        }
        return alnum(previous)   // the last part ends with a letter or digit (and the name is not empty)
    }

    static func pathSegment(_ s: String) -> [String] {
        if s == "." || s == ".." { return ["may not be '\(s)'"] }
        return ["/", "%"].filter { s.contains($0) }.map { "may not contain '\($0)'" }
    }

    static let keyFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

    static func isKeyName(_ s: Substring) -> Bool {
        let u = s.utf8
        guard let f = u.first, let l = u.last else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) }
        return alnum(f) && alnum(l) && u.allSatisfy { alnum($0) || $0 == 45 || $0 == 95 || $0 == 46 }
    }

    /// IsQualifiedName: `[prefix/]name`, the prefix a DNS-1123 subdomain, the name at most 63 characters.
    static func qualifiedName(_ s: String) -> [String] {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        let nameMsg = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName' or 'my.name' or '123-abc', regex used for validation is '\(keyFmt)')"
        var errs: [String] = []
        let name: Substring
        switch parts.count {
        case 1: name = parts[0]
        case 2:
            if parts[0].isEmpty { errs.append("prefix part must be non-empty") } else {
                errs += dns1123Subdomain(String(parts[0])).map { "prefix part " + $0 }
            }
            name = parts[1]
        default:
            return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName' or 'my.name' or '123-abc', regex used for validation is '\(keyFmt)') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
        }
        if name.isEmpty { errs.append("name part must be non-empty") }
        else if name.utf8.count > 63 { errs.append("name part must be no more than 63 characters") }
        if !isKeyName(name) { errs.append(nameMsg) }
        return errs
    }

    static func labelValue(_ s: String) -> [String] {
        var errs: [String] = []
        if s.utf8.count > 63 { errs.append("must be no more than 63 characters") }
        if !s.isEmpty && !isKeyName(Substring(s)) {
            errs.append("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue' or 'my_value' or '12345', regex used for validation is '(\(keyFmt))?')")
        }
        return errs
    }
}

extension FluxBuild {
    /// The file each object of `build()` came from (an absolute path; nil for generated objects),
    /// by building again with kustomize's origin annotations. Only asked for when an error must name a file.
    func origins() -> [String?] {
        let dir = Files.absolute(path)
        guard var k = try? rootKustomization(dir) else { return [] }
        layer(&k)
        var meta = k["buildMetadata"]?.array ?? []
        if !meta.contains(where: { $0.string == "originAnnotations" }) { meta.append("originAnnotations") }
        k["buildMetadata"] = .sequence(meta)
        guard let docs = try? Kustomizer().build(dir, root: k, legacyOrder: false, files: decryption?.files ?? [:], confinedTo: confinement) else { return [] }
        return docs.map { d in
            guard let text = d["metadata"]?["annotations"]?["config.kubernetes.io/origin"]?.string,
                  let origin = try? YAML.parse(text), let p = origin["path"]?.string else { return nil }
            return Self.normalized(dir + "/" + p)
        }
    }

    /// An absolute path without `.` and `..` segments.
    static func normalized(_ path: String) -> String {
        var out: [Substring] = []
        for seg in path.split(separator: "/") {
            if seg == "." { continue }
            if seg == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(seg)
        }
        return "/" + out.joined(separator: "/")
    }
}
