import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import PlantarAPI

/// How long a connection may take, and how many may be open: the API's defence against idle
/// and dribbling clients (issue 11: 200 idle connections were never closed).
public struct ConnectionLimits: Sendable {
    /// From a connection's opening, or the end of its previous response, to the whole next
    /// request head (line and headers) in: an idle keep-alive connection and a client that
    /// dribbles its head are both closed, without an answer, after it.
    public var headTimeout: Duration
    /// From a request's head to the end of its body: a dribbled body is cut off after it (the
    /// connection is closed without an answer, whatever the route was doing with it).
    public var bodyTimeout: Duration
    /// Connections served at once; more wait in the socket's backlog until one closes.
    public var maxConnections: Int

    public init(headTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(10), maxConnections: Int = 128) {
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
        self.maxConnections = maxConnections
    }
}

/// When a request reached the daemon, carried to its handler in a header this handler sets
/// (any value a client sent is overwritten): the stop latency is measured from here, as
/// docs/api.md says, not from when the route ran.
public enum RequestArrival {
    public static let field = HTTPField.Name("Plantar-Received-Ns")!
    /// The instant the header's nanoseconds count from: an hour before the process first used
    /// it, so that a value the edge did not stamp (a client's `0`) would show as an hour-long
    /// stop latency rather than pass unnoticed.
    static let base = ContinuousClock.now.advanced(by: .seconds(-3600))

    /// The header's value for `instant`.
    public static func stamp(_ instant: ContinuousClock.Instant) -> String {
        let parts = base.duration(to: instant).components
        return String(parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000)
    }

    /// The arrival the edge stamped on `request`, or nil (the in-process router tests have no edge).
    static func instant(of request: Request) -> ContinuousClock.Instant? {
        guard let text = request.headers[field], let nanoseconds = Int64(text), nanoseconds >= 0 else { return nil }
        return base.advanced(by: .nanoseconds(nanoseconds))
    }
}

/// The first handler after the HTTP decoder on every API connection: what Hummingbird leaves
/// to the socket.
///
/// - Stamps each request head with its arrival (`RequestArrival`).
/// - Enforces `ConnectionLimits`' head and body deadlines with one timer.
/// - Answers a request the decoder cannot parse (a garbage request line, an oversized head, a
///   NUL in the target, Content-Length with Transfer-Encoding, a negative length) with the
///   API's JSON refusal, `400 bad-request`, and closes: without it Hummingbird answers an
///   empty 400. A parse error inside a body the route is reading (malformed chunks) goes on
///   to the route instead, which refuses it as JSON too (`decodeBody`).
/// - Closes the connection after a response that says `Connection: close`.
final class HTTPEdgeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let limits: ConnectionLimits
    /// Heads read whose response has not ended yet.
    private var awaitingResponse = 0
    /// Between a head and its end.
    private var readingBody = false
    private var closeAfterResponse = false
    private var answeredParseError = false
    private var deadline: Scheduled<Void>?

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(limits.headTimeout, context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(limits.headTimeout, context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            awaitingResponse += 1
            readingBody = true
            arm(limits.bodyTimeout, context)
            head.headerFields[RequestArrival.field] = RequestArrival.stamp(.now)
            context.fireChannelRead(wrapInboundOut(.head(head)))
        case .body:
            context.fireChannelRead(data)
        case .end:
            readingBody = false
            disarm()
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.headerFields[.connection]?.lowercased() == "close" { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            awaitingResponse = max(0, awaitingResponse - 1)
            if closeAfterResponse {
                context.writeAndFlush(data, promise: promise)
                context.close(promise: nil)
                return
            }
            context.write(data, promise: promise)
            // The next head's time starts now (a pipelined one already in counts from its own head).
            if awaitingResponse == 0, !readingBody { arm(limits.headTimeout, context) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError, !readingBody, awaitingResponse == 0, !answeredParseError else {
            context.fireErrorCaught(error)
            return
        }
        answeredParseError = true
        disarm()
        let document = ErrorDocument(code: "bad-request", error: "not an HTTP/1.1 request this server can read (\(Self.describe(parseError))); the connection is closed")
        let body = ByteBuffer(string: SessionManager.json(document) ?? "{}")
        let head = HTTPResponse(status: .badRequest, headerFields: [
            .contentType: "application/json", .contentLength: String(body.readableBytes), .connection: "close",
        ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    static func describe(_ error: HTTPParserError) -> String {
        switch error {
        case .headerOverflow: "the request head is too large"
        case .invalidURL, .invalidPath: "an invalid request target"
        case .invalidMethod: "an invalid method"
        case .invalidVersion: "an invalid HTTP version"
        case .unexpectedContentLength: "Content-Length together with Transfer-Encoding"
        case .invalidContentLength: "an invalid Content-Length"
        case .invalidCharactersUsed, .invalidHeaderToken: "invalid characters in the request head"
        case .invalidChunkSize: "an invalid chunk size"
        default: "\(error)"
        }
    }

    /// One timer at a time: the head's deadline while waiting for a head, the body's while reading one.
    private func arm(_ timeout: Duration, _ context: ChannelHandlerContext) {
        disarm()
        let parts = timeout.components
        let amount = TimeAmount.nanoseconds(parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000)
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: amount) { channel.close(promise: nil) }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}
