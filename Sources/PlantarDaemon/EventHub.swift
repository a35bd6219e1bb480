import Synchronization

/// Fans server-sent events out to the clients of `GET /v1/events`.
///
/// Each client gets its own small buffer that keeps the newest events: a slow or stalled
/// client loses old status lines (they are setpoints, not a backlog) and never slows the
/// session loop, which only appends under a short lock. A client that goes away is dropped
/// when its stream ends; nothing else changes.
public final class EventHub: Sendable {
    /// One event, already in the wire format (`event: NAME\ndata: JSON\n\n`).
    public struct Event: Sendable {
        public var name: String
        public var text: String
    }

    struct State {
        var next = 0
        var subscribers: [Int: AsyncStream<Event>.Continuation] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    /// Events kept per client before the oldest are dropped.
    let bufferSize: Int

    public init(bufferSize: Int = 32) { self.bufferSize = bufferSize }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// A stream of every event from now on, starting with what `first` returns (the current
    /// status). `first` is called after the stream is registered, so a change published while
    /// a client connects is never lost between its first status and the next: at worst that
    /// change comes before the first status, which is then the newer of the two.
    public func subscribe(first: () -> [Event]) -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let id: Int? = state.withLock { s in
            guard !s.closed else { return nil }
            s.next += 1
            s.subscribers[s.next] = continuation
            return s.next
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        for event in first() { continuation.yield(event) }
        return stream
    }

    public func publish(_ name: String, json: String) {
        let event = Event(name: name, text: "event: \(name)\ndata: \(json)\n\n")
        let targets = state.withLock { Array($0.subscribers.values) }
        for continuation in targets { continuation.yield(event) }
    }

    /// A comment line, so that followers (and their read timeouts) know the daemon is alive.
    public func keepAlive() {
        let targets = state.withLock { Array($0.subscribers.values) }
        guard !targets.isEmpty else { return }
        let event = Event(name: "", text: ": keep-alive\n\n")
        for continuation in targets { continuation.yield(event) }
    }

    /// Ends every stream (shutdown): the clients see the end of the response.
    public func close() {
        let targets = state.withLock { s in
            s.closed = true
            defer { s.subscribers.removeAll() }
            return Array(s.subscribers.values)
        }
        for continuation in targets { continuation.finish() }
    }
}
