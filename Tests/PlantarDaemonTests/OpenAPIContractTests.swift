import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

extension TestClientProtocol {
    /// `execute`, and the response checked against docs/openapi.yaml: its route, status,
    /// content type and body. Every route test goes through here, so the document and the
    /// server cannot drift apart.
    func checked(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil,
                 sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestResponse {
        let response = try await executeRequest(uri: uri, method: method, headers: headers, body: body)
        let contract = try OpenAPIContract.shared.get()
        // An event stream never ends: the test reads what it needs; its content type is checked.
        let violations = contract.violations(method: method.rawValue, uri: uri, status: Int(response.status.code),
                                             contentType: response.headers[.contentType], body: Data(response.body.readableBytesView))
        #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))", sourceLocation: sourceLocation)
        return response
    }
}

extension TestClientProtocol {
    /// A request to a path the document does not have (on purpose): the answer must still be
    /// a `Refusal` document, `404 not-found`.
    func outsideTheDocument(uri: String, method: HTTPRequest.Method, sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestResponse {
        let response = try await executeRequest(uri: uri, method: method, headers: [:], body: nil)
        let contract = try OpenAPIContract.shared.get()
        #expect(contract.template(for: uri) == nil, "\(uri) is documented: use checked(uri:)", sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        let errors = contract.validator.errors(try JSONValue.parse(Data(response.body.readableBytesView)), contract.schema("Refusal"))
        #expect(errors.isEmpty, "\(errors)", sourceLocation: sourceLocation)
        return response
    }
}

/// The contract's oracle itself: it reads the document and rejects what breaks it. Without
/// these a validator that accepted everything would make every route test pass.
@Suite("OpenAPI contract: the validator")
struct OpenAPIContractTests {
    let contract: OpenAPIContract

    init() throws {
        contract = try OpenAPIContract.shared.get()
    }

    func errors(_ json: String, _ schema: String) throws -> [String] {
        contract.validator.errors(try JSONValue.parse(Data(json.utf8)), contract.schema(schema))
    }

    static let refusal = #"{"code":"busy","error":"a session runs","details":null}"#

    @Test func aGoodRefusalPassesAndEveryWrongOneFails() throws {
        #expect(try errors(Self.refusal, "Refusal") == [])
        #expect(try errors(#"{"code":"busy","error":"x","details":["intensity: 9"]}"#, "Refusal") == [])
        let wrong: [(String, String)] = [
            (#"{"code":"busy","error":"x"}"#, "the key 'details' is missing"),                   // absent, not null
            (#"{"code":"busy","error":"x","details":null,"extra":1}"#, "the key 'extra' is not in the schema"),
            (#"{"code":"nope","error":"x","details":null}"#, "is not one of"),                   // enum
            (#"{"code":"busy","error":"","details":null}"#, "shorter than 1"),                    // minLength
            (#"{"code":"busy","error":"x","details":"one"}"#, "is not of type array or null"),   // type list
            (#"{"code":"busy","error":"x","details":[1]}"#, "$.details[0]: 1 is not of type string"), // items
            (#"[]"#, "is not of type object"),
        ]
        for (json, expected) in wrong {
            let found = try errors(json, "Refusal")
            #expect(found.contains { $0.contains(expected) }, "\(json): \(found)")
        }
    }

    @Test func nullableRefsOneOfAndRanges() throws {
        let device = #"{"backend":"simulator","profile":"reference","link":"up","switchPressed":false,"fault":null,"atRest":true,"measuredKPa":{"left":0,"right":1.5}}"#
        let status = #"{"state":"idle","latched":false,"latchReason":null,"stopping":false,"device":\#(device),"session":null}"#
        #expect(try errors(status, "Status") == [])
        // $ref into components, then oneOf [Session, null]: a session that is not one fails both.
        let found = try errors(status.replacingOccurrences(of: #""session":null"#, with: #""session":{"id":1}"#), "Status")
        #expect(found.contains { $0.contains("matches 0 of oneOf's 2 schemas") }, "\(found)")
        // A key the docs show as null must be there.
        #expect(try errors(status.replacingOccurrences(of: #""latchReason":null,"#, with: ""), "Status").contains { $0.contains("'latchReason' is missing") })
        // Inside the $ref'd Device: a wrong enum value, a foot that is not one.
        #expect(try !errors(status.replacingOccurrences(of: "simulator", with: "teleport"), "Status").isEmpty)
        #expect(try errors(status.replacingOccurrences(of: #""left":0"#, with: #""middle":0"#), "Status").contains { $0.contains("$.device.measuredKPa") })
        // minimum/maximum, integer.
        let program = #"{"name":"x","title":"x","origin":"user","statedSeconds":-1,"parameters":[{"name":"i","choices":null,"minimum":1.5,"maximum":5,"defaultValue":"3"}],"problem":null}"#
        let programErrors = try errors(program, "Program")
        #expect(programErrors.contains { $0.contains("$.statedSeconds: -1 is below the minimum") }, "\(programErrors)")
        #expect(programErrors.contains { $0.contains("$.parameters[0].minimum: 1.5 is not of type integer or null") }, "\(programErrors)")
        let session = try errors(#"{"progress": 1.5}"#, "Session")
        #expect(session.contains { $0.contains("above the maximum") } && session.contains { $0.contains("'id' is missing") }, "\(session)")
    }

    @Test func anUnknownKeywordIsAnErrorNotAPass() throws {
        let validator = SchemaValidator(root: .null)
        let schema = try JSONValue.parse(Data(#"{"type":"string","maxLength":3}"#.utf8))
        #expect(validator.errors(.string("long text"), schema).contains { $0.contains("'maxLength' is not supported") })
        let anyOf = try JSONValue.parse(Data(#"{"anyOf":[{"type":"string"},{"type":"integer"}]}"#.utf8))
        #expect(validator.errors(.number(2), anyOf).isEmpty)
        #expect(!validator.errors(.number(2.5), anyOf).isEmpty)
    }

    @Test func responsesOutsideTheDocumentFail() throws {
        let body = Data(Self.refusal.utf8)
        // A status the route does not document, a route that is not there, a wrong content type.
        #expect(contract.violations(method: "GET", uri: "/v1/status", status: 409, contentType: "application/json", body: body)
            .contains { $0.contains("status 409 is not documented for GET /v1/status") })
        #expect(contract.violations(method: "GET", uri: "/v1/nowhere", status: 404, contentType: "application/json", body: body)
            .contains { $0.contains("not in docs/openapi.yaml") })
        #expect(contract.violations(method: "DELETE", uri: "/v1/status", status: 200, contentType: "application/json", body: body)
            .contains { $0.contains("DELETE /v1/status is not in") })
        #expect(contract.violations(method: "POST", uri: "/v1/ease", status: 409, contentType: "text/plain", body: body)
            .contains { $0.contains("content type text/plain is not one of application/json") })
        // A documented refusal code narrowed per response (allOf): busy is no answer of resume.
        #expect(contract.violations(method: "POST", uri: "/v1/resume", status: 409, contentType: "application/json", body: body)
            .contains { $0.contains("$.code") })
        // Templated paths match; the right answer passes.
        #expect(contract.violations(method: "POST", uri: "/v1/sessions", status: 409, contentType: "application/json", body: body) == [])
        #expect(contract.template(for: "/v1/simulator/switch") == "/v1/simulator/{input}")
        #expect(contract.violations(method: "GET", uri: "/metrics", status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Data("x 1\n".utf8)) == [])
    }
}
