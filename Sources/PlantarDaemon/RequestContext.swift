import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import NIOCore

/// The request context of the control API: Hummingbird's core storage plus the connection,
/// so a handler can tell who is asking (the peer's uid on the Unix socket, the address on TCP).
public struct PlantarRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Small bodies only: a start request with a routine's text is a few kilobytes.
    public var maxUploadSize: Int { 64 * 1024 }

    /// Who sent the request, for the logs and the session's `startedBy`: `uid 1000 (pid 4242)`
    /// from SO_PEERCRED on the Unix socket, `tcp ADDRESS` over TCP, `unknown` otherwise
    /// (the in-process router tests).
    func peer() async -> String {
        guard let channel else { return "unknown" }
        if case .unixDomainSocket = channel.localAddress {
            guard let provider = channel as? any SocketOptionProvider else { return "unix socket (peer unknown)" }
            do {
                let credentials: PeerCredentials = try await provider.unsafeGetSocketOption(
                    level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)).get()
                return "uid \(credentials.uid) (pid \(credentials.pid))"
            } catch {
                return "unix socket (peer unknown: \(error))"
            }
        }
        if let remote = channel.remoteAddress {
            return "tcp \(remote.ipAddress ?? remote.description)"
        }
        return "unknown"
    }

    /// Whether the request came over TCP (and so must carry the token).
    var overTCP: Bool {
        guard let channel else { return false }
        switch channel.localAddress {
        case .v4?, .v6?: return true
        default: return false
        }
    }
}

/// `struct ucred` from <sys/socket.h> (pid, uid, gid), which Glibc's module does not export
/// without _GNU_SOURCE; the same three 32-bit fields in the same order.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
