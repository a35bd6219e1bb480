import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import PlantarAPI
import PlantarConfig
import PlantarCore
import PlantarSimulator
import ServiceLifecycle

/// The control API's routes (docs/api.md describes them; a test keeps the two in step).
public func buildRouter(daemon: Daemon) -> Router<PlantarRequestContext> {
    let router = Router(context: PlantarRequestContext.self)
    router.add(middleware: ErrorMiddleware(metrics: daemon.metrics))
    if let tcp = daemon.config.tcp { router.add(middleware: TokenMiddleware(token: tcp.token)) }
    let manager = daemon.manager

    let v1 = router.group(RouterPath(apiVersionPrefix))

    v1.get("status") { _, _ in
        jsonResponse(manager.statusDocument)
    }

    v1.get("programs") { _, _ in
        jsonResponse(programDocuments(daemon))
    }

    v1.post("sessions") { request, context in
        let start: StartRequest = try await decodeBody(request, context)
        let who = await context.peer()
        do throws(Refusal) {
            return jsonResponse(try manager.start(start, who: who), status: .created)
        } catch {
            daemon.logger.info("session refused: \(error.message)", metadata: ["who": "\(who)", "code": "\(error.code)"])
            throw APIError(error)
        }
    }

    // Stop and ease act before anything else: no body is read, and who asked is looked up
    // (a trip through the connection's event loop) only after the device has been told.
    v1.post("stop") { request, context in
        // Measured from the request's arrival (stamped by the edge), not from this handler.
        let received = RequestArrival.instant(of: request) ?? .now
        let detail = manager.stop(source: "control API", received: received)
        manager.logAction("stop", detail, who: await context.peer())
        return jsonResponse(ActionDocument(action: "stop", detail: detail, status: manager.statusDocument))
    }

    v1.post("ease") { _, context in
        do throws(Refusal) {
            let detail = try manager.ease(source: "control API")
            manager.logAction("ease", detail, who: await context.peer())
            return jsonResponse(ActionDocument(action: "ease", detail: detail, status: manager.statusDocument))
        } catch {
            throw APIError(error)
        }
    }

    v1.post("pause") { _, context in
        let who = await context.peer()
        do throws(Refusal) {
            return jsonResponse(ActionDocument(action: "pause", detail: try manager.pause(who: who), status: manager.statusDocument))
        } catch {
            throw APIError(error)
        }
    }

    v1.post("resume") { _, context in
        let who = await context.peer()
        do throws(Refusal) {
            return jsonResponse(ActionDocument(action: "resume", detail: try manager.resume(who: who), status: manager.statusDocument))
        } catch {
            throw APIError(error)
        }
    }

    v1.post("rearm") { _, context in
        let who = await context.peer()
        do throws(Refusal) {
            return jsonResponse(ActionDocument(action: "rearm", detail: try await manager.rearm(who: who), status: manager.statusDocument))
        } catch {
            daemon.logger.notice("re-arm refused: \(error.message)", metadata: ["who": "\(who)"])
            throw APIError(error)
        }
    }

    v1.get("events") { _, _ in
        let stream = daemon.hub.subscribe { manager.currentStatusEvent().map { [$0] } ?? [] }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // Ends when the client goes away (the write fails), when the daemon shuts down
            // (graceful shutdown, or the hub closes): nothing else changes either way.
            for await event in stream.cancelOnGracefulShutdown() {
                try await writer.write(ByteBuffer(string: event.text))
            }
            try await writer.finish(nil)
        })
    }

    // Simulator only: the person's inputs, for demos and tests (`curl -X POST .../v1/simulator/switch`).
    v1.post("simulator/:input") { _, context in
        let name = context.parameters.get("input") ?? ""
        let who = await context.peer()
        do throws(Refusal) {
            let detail = try manager.simulatorInput(name, who: who)
            return jsonResponse(ActionDocument(action: "simulator/\(name)", detail: detail, status: manager.statusDocument))
        } catch {
            throw APIError(error)
        }
    }

    router.get("metrics") { _, _ in
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: daemon.metrics.render())))
    }
    return router
}

func programDocuments(_ daemon: Daemon) -> [ProgramDocument] {
    let map = daemon.manager.map
    return daemon.library.programs().map { program in
        do throws(LoadError) {
            let (routine, _) = try daemon.library.loadRoutine(program.path, map: map)
            let parameters = routine.allParameters.sorted { $0.key < $1.key }.map { name, spec in
                switch spec {
                case .choice(let choices, let d):
                    ProgramDocument.Parameter(name: name, choices: choices, minimum: nil, maximum: nil, defaultValue: d)
                case .integer(let range, let d):
                    ProgramDocument.Parameter(name: name, choices: nil, minimum: range.lowerBound, maximum: range.upperBound, defaultValue: String(d))
                }
            }
            return ProgramDocument(name: program.name, title: routine.title, origin: program.origin,
                                   statedSeconds: routine.statedDuration().seconds, parameters: parameters, problem: nil)
        } catch {
            return ProgramDocument(name: program.name, title: "", origin: program.origin, statedSeconds: nil, parameters: [],
                                   problem: error.description.split(separator: "\n").first.map(String.init))
        }
    }
}

/// A JSON body with its content type.
func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// Reads a JSON body: too large is a 413; a body the HTTP parser rejects (malformed chunks),
/// not JSON or not the expected shape a 400.
func decodeBody<T: Decodable>(_ request: Request, _ context: PlantarRequestContext) async throws -> T {
    var request = request
    let buffer: ByteBuffer
    do {
        buffer = try await request.collectBody(upTo: context.maxUploadSize)
    } catch is NIOTooManyBytesError {
        throw APIError(status: .contentTooLarge, code: "too-large", "the request body is larger than \(context.maxUploadSize / 1024) KiB")
    } catch let error as HTTPError where error.status == .contentTooLarge {
        throw APIError(status: .contentTooLarge, code: "too-large", "the request body is larger than \(context.maxUploadSize / 1024) KiB")
    } catch let error as HTTPParserError {
        throw APIError(status: .badRequest, code: "bad-request", "malformed request body: \(HTTPEdgeHandler.describe(error))", close: true)
    } catch {
        throw APIError(status: .badRequest, code: "bad-request", "the request body could not be read: \(error)", close: true)
    }
    guard buffer.readableBytes > 0 else { throw APIError(status: .badRequest, code: "bad-request", "the request needs a JSON body") }
    do {
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    } catch let error as DecodingError {
        throw APIError(status: .badRequest, code: "bad-request", "malformed request: \(describe(error))")
    } catch {
        throw APIError(status: .badRequest, code: "bad-request", "malformed request: \(error)")
    }
}

func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        let p = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? "" : " at '\(p)'"
    }
    switch error {
    // With a path it is a value the document cannot take (an unknown key, a number out of
    // range) and the decoder says which; without one the text is not JSON at all.
    case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not valid JSON" : "\(c.debugDescription)\(path(c))"
    case .keyNotFound(let key, let c): return "missing key '\(key.stringValue)'\(path(c))"
    case .typeMismatch(let type, let c): return "expected \(type)\(path(c))"
    case .valueNotFound(let type, let c): return "expected \(type)\(path(c))"
    @unknown default: return "\(error)"
    }
}

/// A refusal on its way to the client as a JSON `ErrorDocument`.
struct APIError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var document: ErrorDocument
    /// The connection cannot carry another request (its body could not be read to its end).
    var close = false

    init(status: HTTPResponse.Status, code: String, _ message: String, details: [String]? = nil, close: Bool = false) {
        self.status = status
        document = ErrorDocument(code: code, error: message, details: details)
        self.close = close
    }

    init(_ refusal: Refusal) {
        self.init(status: HTTPResponse.Status(code: refusal.status), code: refusal.code, refusal.message, details: refusal.details)
    }

    var headers: HTTPFields { [.contentType: "application/json"] }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response
    }

    var response: Response {
        var response = jsonResponse(document, status: status)
        // HTTPEdgeHandler closes the connection once this response is out.
        if close { response.headers[.connection] = "close" }
        return response
    }
}

/// Every error leaves as JSON (docs/openapi.yaml's Refusal): a route that does not exist is a
/// 404 document, anything unexpected a 500 one; refusals are counted.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = PlantarRequestContext
    let metrics: DaemonMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            metrics.refused(error.document.code)
            return error.response
        } catch let error as HTTPError {
            let code = error.status == .notFound ? "not-found" : error.status == .contentTooLarge ? "too-large" : "http-\(error.status.code)"
            metrics.refused(code)
            let message = error.status == .notFound
                ? "no such endpoint: \(request.method) \(request.uri.path) (see docs/api.md)"
                : error.body ?? error.status.reasonPhrase
            return jsonResponse(ErrorDocument(code: code, error: message), status: error.status)
        } catch {
            // Nothing should get here; if something does, the client still gets the document.
            metrics.refused("internal")
            return jsonResponse(ErrorDocument(code: "internal", error: "internal error: \(error)"), status: .internalServerError)
        }
    }
}

/// Over TCP every request must carry `Authorization: Bearer TOKEN`; the Unix socket is
/// guarded by its file mode and group instead.
struct TokenMiddleware: RouterMiddleware {
    typealias Context = PlantarRequestContext
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard context.overTCP else { return try await next(request, context) }
        let given = request.headers[.authorization] ?? ""
        // Compare in constant time: the token is the only guard on TCP.
        let expected = Array("Bearer \(token)".utf8), actual = Array(given.utf8)
        var difference = expected.count ^ actual.count
        for i in 0..<expected.count { difference |= Int(expected[i] ^ (i < actual.count ? actual[i] : 0)) }
        guard difference == 0 else {
            throw APIError(status: .unauthorized, code: "unauthorized", "over TCP every request needs 'Authorization: Bearer TOKEN' (the token in plantard.yaml)")
        }
        return try await next(request, context)
    }
}
