import PlantarCore
import Yams

/// Walks a composed YAML document, collecting every problem with its file:line:column
/// instead of stopping at the first. The format loaders are written on top of it.
struct YAMLReader {
    let file: String
    var problems: [Diagnostic] = []

    init(file: String) { self.file = file }

    /// Parses `text` into a node tree; syntax errors become diagnostics.
    mutating func compose(_ text: String) -> Node? {
        do {
            guard let root = try Yams.compose(yaml: text) else {
                problems.append(Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), "the file is empty"))
                return nil
            }
            return root
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                problems.append(Diagnostic(at: location(mark), "YAML syntax: \(problem)"))
            case .duplicatedKeysInMapping(let duplicates, let context):
                problems.append(Diagnostic(at: location(context.mark), "duplicate key '\(duplicates.joined(separator: "', '"))'"))
            case .reader(let problem, _, _, _):
                problems.append(Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), "cannot read the file: \(problem)"))
            default:
                problems.append(Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), "YAML: \(error)"))
            }
            return nil
        } catch {
            problems.append(Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), "YAML: \(error)"))
            return nil
        }
    }

    func location(_ mark: Mark?) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    func location(_ node: Node) -> SourceLocation { location(node.mark) }

    mutating func error(_ node: Node, _ message: String) {
        problems.append(Diagnostic(at: location(node), message))
    }

    /// A mapping's entries as (key, key node, value), in file order. Reports unknown keys
    /// (with the nearest known one) and missing required ones.
    mutating func mapping(_ node: Node, _ what: String, allowed: [String], required: [String] = []) -> Entries? {
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) must be a mapping of keys to values")
            return nil
        }
        var entries = Entries(node: node)
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                error(keyNode, "keys in \(what) must be plain words")
                continue
            }
            let key = scalar.string
            if !allowed.isEmpty && !allowed.contains(key) {
                let hint = nearest(key, allowed).map { "; did you mean '\($0)'?" } ?? ""
                error(keyNode, "unknown key '\(key)' in \(what)\(hint)")
                continue
            }
            entries.items.append((key, keyNode, value))
        }
        for key in required where entries[key] == nil {
            error(node, "\(what) is missing the required key '\(key)'")
        }
        return entries
    }

    struct Entries {
        let node: Node
        var items: [(key: String, keyNode: Node, value: Node)] = []

        subscript(_ key: String) -> Node? { items.first { $0.key == key }?.value }
    }

    mutating func sequence(_ node: Node, _ what: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            error(node, "\(what) must be a list")
            return nil
        }
        return Array(sequence)
    }

    mutating func string(_ node: Node, _ what: String) -> String? {
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            error(node, "\(what) must be text")
            return nil
        }
        return scalar.string
    }

    mutating func double(_ node: Node, _ what: String, in range: ClosedRange<Double>) -> Double? {
        guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite else {
            error(node, "\(what) must be a number")
            return nil
        }
        guard range.contains(value) else {
            error(node, "\(what) \(scalar.string) is out of range (\(fixedTrim(range.lowerBound))–\(fixedTrim(range.upperBound)))")
            return nil
        }
        return value
    }

    mutating func int(_ node: Node, _ what: String, in range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            error(node, "\(what) must be a whole number")
            return nil
        }
        guard range.contains(value) else {
            error(node, "\(what) \(value) is out of range (\(range.lowerBound)–\(range.upperBound))")
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node, _ what: String) -> Bool? {
        guard case .scalar(let scalar) = node, let value = ["true": true, "false": false, "yes": true, "no": false][scalar.string.lowercased()] else {
            error(node, "\(what) must be true or false")
            return nil
        }
        return value
    }

    /// A duration in the routine syntax (`45s`, `1m30s`), within `range`.
    mutating func duration(_ node: Node, _ what: String, in range: ClosedRange<Duration>) -> Duration? {
        guard case .scalar(let scalar) = node else {
            error(node, "\(what) must be a duration such as 45s or 1m30s")
            return nil
        }
        if scalar.string.hasPrefix("-") {
            error(node, "\(what) \(scalar.string) is negative")
            return nil
        }
        let value: Duration
        switch DurationSyntax.parsing(scalar.string) {
        case .success(let d): value = d
        case .failure(.tooLong):
            error(node, "\(what) \(scalar.string) is out of range (\(DurationSyntax.format(range.lowerBound))–\(DurationSyntax.format(range.upperBound)))")
            return nil
        case .failure(.malformed):
            error(node, "\(what) '\(scalar.string)' is not a duration such as 45s, 1.5s or 1m30s")
            return nil
        }
        guard range.contains(value) else {
            error(node, "\(what) \(scalar.string) is out of range (\(DurationSyntax.format(range.lowerBound))–\(DurationSyntax.format(range.upperBound)))")
            return nil
        }
        return value
    }

    /// A length in millimetres, written `6mm` or `6`.
    mutating func millimetres(_ node: Node, _ what: String, in range: ClosedRange<Double>) -> Double? {
        guard case .scalar(let scalar) = node else {
            error(node, "\(what) must be a length such as 6mm")
            return nil
        }
        var text = Substring(scalar.string)
        if text.hasSuffix("mm") { text = text.dropLast(2) }
        guard let value = Double(text), value.isFinite else {
            error(node, "\(what) '\(scalar.string)' is not a length such as 6mm")
            return nil
        }
        guard range.contains(value) else {
            error(node, "\(what) \(scalar.string) is out of range (\(fixedTrim(range.lowerBound))–\(fixedTrim(range.upperBound)) mm)")
            return nil
        }
        return value
    }

    /// One of an enumeration's raw values.
    mutating func choice<E: RawRepresentable & CaseIterable>(_ node: Node, _ what: String, _: E.Type) -> E? where E.RawValue == String {
        guard let text = string(node, what) else { return nil }
        guard let value = E(rawValue: text) else {
            let names = E.allCases.map(\.rawValue)
            let hint = nearest(text, names).map { "did you mean '\($0)'? " } ?? ""
            error(node, "unknown \(what) '\(text)'; \(hint)expected one of \(names.joined(separator: ", "))")
            return nil
        }
        return value
    }

    /// A `[x, y]` pair of normalized foot coordinates, each 0…1.
    mutating func footPoint(_ node: Node, _ what: String) -> FootPoint? {
        guard let items = sequence(node, what), items.count == 2 else {
            if case .sequence = node { error(node, "\(what) must be a pair [x, y]") }
            return nil
        }
        guard let x = double(items[0], "\(what) x", in: 0...1), let y = double(items[1], "\(what) y", in: 0...1) else { return nil }
        return FootPoint(x: x, y: y)
    }

    func nearest(_ name: String, _ candidates: [String]) -> String? {
        RoutineValidator.nearestName(to: name, in: candidates)
    }
}

func fixedTrim(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : fixed(value, 3)
}
