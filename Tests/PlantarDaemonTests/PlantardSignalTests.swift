import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PlantarAPI
import Testing

/// Every catchable terminating signal, not only SIGTERM, ends plantard cleanly with the device
/// released first (the simulated device reports what it holds at the end). Serialized: five
/// daemons at once would load the two cores the serial tests need on time.
@Suite("plantard on other terminating signals", .serialized, .timeLimit(.minutes(3)))
struct PlantardSignalTests {
    @Test(arguments: [SIGHUP, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM])
    func aSignalMidSessionReleasesFirstThenShutsDownCleanly(_ number: Int32) throws {
        let daemon = try RunningDaemon()
        _ = try daemon.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        try daemon.waitForStatus("pressing") { ($0.session?.measuredKPa["right"] ?? 0) > 10 }
        daemon.signal(number)
        let exit = try #require(daemon.waitForExit(within: 20), "plantard did not exit after signal \(number)\n\(daemon.log())")
        #expect(exit.0 == 0 && !exit.1, "\(exit)\n\(daemon.log())")
        let log = daemon.log()
        // Handled at once (not only when the service group reaches the session manager).
        #expect(log.contains("signal \(number): device released and session stopped"), "\(log)")
        let stopped = try #require(log.range(of: "shutting down: session stopped, device released"), "\(log)")
        let atRest = try #require(log.range(of: "NOTICE device at rest"), "\(log)")
        #expect(stopped.lowerBound < atRest.lowerBound)
        #expect(!log.contains("NOT at rest"))
        // Nothing left behind for the next plantard or a client to trip over (NIO removes the
        // API's socket as its listener closes, the stop lane its own).
        #expect(!FileManager.default.fileExists(atPath: daemon.socket), "the API socket is left behind")
        #expect(!FileManager.default.fileExists(atPath: stopLanePath(forSocket: daemon.socket)), "the stop lane's socket is left behind")
    }
}
