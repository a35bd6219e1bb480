import Foundation
import Yams

// The oracle for the API's contract: docs/openapi.yaml, read here with Yams, and a small
// JSON-Schema validator written for it. Neither shares code with the server (which never
// reads the document): a response is checked against what the document says, not against
// the Swift types that produced it.

/// A JSON (or YAML-as-JSON) value.
indirect enum JSONValue: Equatable, CustomStringConvertible, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// Parses JSON text (strictly: JSONDecoder's rules).
    static func parse(_ data: Data) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: data) }

    /// What Yams.load returns, as a JSONValue (mapping keys as text: `"200"`).
    static func fromYAML(_ any: Any?) throws -> JSONValue {
        switch any {
        case nil, is NSNull: return .null
        case let s as String: return .string(s)
        case let b as Bool: return .bool(b)
        case let i as Int: return .number(Double(i))
        case let d as Double: return .number(d)
        case let a as [Any]: return .array(try a.map(fromYAML))
        case let m as [AnyHashable: Any]:
            var object: [String: JSONValue] = [:]
            for (key, value) in m { object["\(key.base)"] = try fromYAML(value) }
            return .object(object)
        default: throw SchemaError("YAML value \(String(describing: any)) of type \(type(of: any!)) has no JSON form")
        }
    }

    var object: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    var string: String? { if case .string(let s) = self { s } else { nil } }
    var number: Double? { if case .number(let n) = self { n } else { nil } }
    subscript(key: String) -> JSONValue? { object?[key] }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .number(let n): n == n.rounded() && abs(n) < 1e15 ? "\(Int64(n))" : "\(n)"
        case .string(let s): "\"\(s.prefix(60))\""
        case .array(let a): "[\(a.count) items]"
        case .object(let o): "{\(o.keys.sorted().prefix(6).joined(separator: ", "))}"
        }
    }

    /// The JSON-Schema type names this value has (an integral number is both).
    var typeNames: Set<String> {
        switch self {
        case .null: ["null"]
        case .bool: ["boolean"]
        case .number(let n): n.isFinite && n == n.rounded() ? ["number", "integer"] : ["number"]
        case .string: ["string"]
        case .array: ["array"]
        case .object: ["object"]
        }
    }
}

struct SchemaError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The subset of JSON Schema (2020-12, as OpenAPI 3.1 uses it) that docs/openapi.yaml uses:
/// `type` (one or a list, so `[string, "null"]` is nullable), `enum`, `required`,
/// `properties`, `additionalProperties` (false or a schema), `items`, `oneOf`, `anyOf`,
/// `allOf`, `$ref` (local, `#/components/...`), `minimum`, `maximum`, `minLength`, `pattern`.
/// A keyword outside the subset is an error, never silently passed: the document cannot
/// promise what this validator does not check.
struct SchemaValidator {
    /// The whole document, for `$ref`.
    let root: JSONValue

    static let checked: Set<String> = ["type", "enum", "required", "properties", "additionalProperties", "items",
                                       "oneOf", "anyOf", "allOf", "$ref", "minimum", "maximum", "minLength", "pattern"]
    /// Words for people, not constraints.
    static let annotations: Set<String> = ["description", "title", "example", "examples", "default", "format"]

    /// Every way `value` breaks `schema`; empty when it conforms. `path` names where (`$.session.foot`).
    func errors(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        guard let s = schema.object else { return ["\(path): the schema is not an object (\(schema))"] }
        var errors: [String] = []
        for key in s.keys where !Self.checked.contains(key) && !Self.annotations.contains(key) {
            errors.append("\(path): schema keyword '\(key)' is not supported by this validator")
        }
        if let ref = s["$ref"]?.string {
            guard let target = resolve(ref) else { return errors + ["\(path): unresolvable $ref \(ref)"] }
            errors += self.errors(value, target, at: path)
        }
        if let type = s["type"] {
            let allowed = type.string.map { [$0] } ?? type.array?.compactMap(\.string) ?? []
            if value.typeNames.isDisjoint(with: allowed) {
                return errors + ["\(path): \(value) is not of type \(allowed.joined(separator: " or "))"]
            }
        }
        if let choices = s["enum"]?.array, !choices.contains(value) {
            errors.append("\(path): \(value) is not one of \(choices.map(\.description).joined(separator: ", "))")
        }
        if case .number(let n) = value {
            if let minimum = s["minimum"]?.number, n < minimum { errors.append("\(path): \(value) is below the minimum \(minimum)") }
            if let maximum = s["maximum"]?.number, n > maximum { errors.append("\(path): \(value) is above the maximum \(maximum)") }
        }
        if case .string(let text) = value {
            if let minLength = s["minLength"]?.number, Double(text.count) < minLength { errors.append("\(path): \(value) is shorter than \(Int(minLength))") }
            if let pattern = s["pattern"]?.string {
                if let regex = try? Regex(pattern) {
                    if (try? regex.firstMatch(in: text)) == nil { errors.append("\(path): \(value) does not match \(pattern)") }
                } else {
                    errors.append("\(path): the pattern \(pattern) does not compile")
                }
            }
        }
        if case .object(let object) = value {
            let properties = s["properties"]?.object ?? [:]
            for name in s["required"]?.array?.compactMap(\.string) ?? [] where object[name] == nil {
                errors.append("\(path): the key '\(name)' is missing")
            }
            for (name, item) in object.sorted(by: { $0.key < $1.key }) {
                if let property = properties[name] {
                    errors += self.errors(item, property, at: "\(path).\(name)")
                } else if let additional = s["additionalProperties"] {
                    if additional == .bool(false) { errors.append("\(path): the key '\(name)' is not in the schema") }
                    else if additional != .bool(true) { errors += self.errors(item, additional, at: "\(path).\(name)") }
                }
            }
        }
        if case .array(let items) = value, let itemSchema = s["items"] {
            for (i, item) in items.enumerated() { errors += self.errors(item, itemSchema, at: "\(path)[\(i)]") }
        }
        if let all = s["allOf"]?.array {
            for sub in all { errors += self.errors(value, sub, at: path) }
        }
        if let any = s["anyOf"]?.array, !any.contains(where: { self.errors(value, $0, at: path).isEmpty }) {
            errors.append("\(path): \(value) matches none of anyOf's \(any.count) schemas")
        }
        if let one = s["oneOf"]?.array {
            let matching = one.filter { self.errors(value, $0, at: path).isEmpty }.count
            if matching != 1 { errors.append("\(path): \(value) matches \(matching) of oneOf's \(one.count) schemas, not exactly one") }
        }
        return errors
    }

    /// `#/components/schemas/Status` in the document.
    func resolve(_ ref: String) -> JSONValue? {
        guard ref.hasPrefix("#/") else { return nil }
        var node: JSONValue? = root
        for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
        return node
    }
}

/// docs/openapi.yaml, and what it says a response to a route may be.
struct OpenAPIContract {
    let document: JSONValue
    let validator: SchemaValidator

    static let shared: Result<OpenAPIContract, any Error> = Result {
        try OpenAPIContract(yaml: String(contentsOf: repository.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8))
    }

    init(yaml: String) throws {
        document = try JSONValue.fromYAML(try Yams.load(yaml: yaml))
        guard document["openapi"]?.string?.hasPrefix("3.1") == true else { throw SchemaError("not an OpenAPI 3.1 document") }
        validator = SchemaValidator(root: document)
    }

    /// The documented path template that `path` is an instance of (`/v1/simulator/{input}`).
    func template(for path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return document["paths"]?.object?.keys.sorted().first { template in
            let templateParts = template.split(separator: "/", omittingEmptySubsequences: false)
            return templateParts.count == parts.count && zip(templateParts, parts).allSatisfy { t, p in
                (t.hasPrefix("{") && t.hasSuffix("}") && !p.isEmpty) || t == p
            }
        }
    }

    /// Every way the response breaks the document: the route, method and status must be
    /// documented, the content type one the status lists, and the body valid against its schema.
    func violations(method: String, uri: String, status: Int, contentType: String?, body: Data) -> [String] {
        let path = String(uri.prefix { $0 != "?" })
        let at = "\(method) \(path) → \(status)"
        guard let template = template(for: path) else { return ["\(at): the path is not in docs/openapi.yaml"] }
        guard let operation = document["paths"]?[template]?[method.lowercased()] else {
            return ["\(at): \(method.uppercased()) \(template) is not in docs/openapi.yaml"]
        }
        guard var response = operation["responses"]?[String(status)] else {
            let documented = operation["responses"]?.object?.keys.sorted().joined(separator: ", ") ?? ""
            return ["\(at): status \(status) is not documented for \(method.uppercased()) \(template) (documented: \(documented))"]
        }
        if let ref = response["$ref"]?.string {
            guard let target = validator.resolve(ref) else { return ["\(at): unresolvable \(ref)"] }
            response = target
        }
        guard let content = response["content"]?.object else {
            return body.isEmpty ? [] : ["\(at): the document gives no body, the response has \(body.count) bytes"]
        }
        // The media type without its parameters (`text/plain; version=0.0.4` is text/plain).
        func essence(_ type: String) -> String { type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? "" }
        guard let contentType, let (_, media) = content.first(where: { essence($0.key) == essence(contentType) }) else {
            return ["\(at): content type \(contentType ?? "(none)") is not one of \(content.keys.sorted().joined(separator: ", "))"]
        }
        guard let schema = media["schema"] else { return [] }
        let value: JSONValue
        if essence(contentType) == "application/json" {
            do { value = try JSONValue.parse(body) } catch {
                return ["\(at): the body is not JSON: \(String(decoding: body.prefix(200), as: UTF8.self))"]
            }
        } else {
            guard let text = String(data: body, encoding: .utf8) else { return ["\(at): the body is not UTF-8 text"] }
            value = .string(text)
        }
        return validator.errors(value, schema).map { "\(at): \($0)" }
    }

    /// The schema at `#/components/schemas/NAME`.
    func schema(_ name: String) -> JSONValue { .object(["$ref": .string("#/components/schemas/\(name)")]) }
}
