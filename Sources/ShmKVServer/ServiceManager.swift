import Posix
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// systemd's readiness protocol (`sd_notify(3)`), for a unit with `Type=notify`: when the service manager
/// started the daemon it names a Unix datagram socket in `NOTIFY_SOCKET`, and the daemon sends it
/// `READY=1` once it serves and `STOPPING=1` when it begins to stop. Without `NOTIFY_SOCKET` (run by
/// hand, by a test, by another supervisor) nothing is sent.
public enum ServiceManager {
    /// The socket named by `NOTIFY_SOCKET`, or nil when no service manager waits for messages.
    public static var notifySocket: String? {
        guard let value = getenv("NOTIFY_SOCKET") else { return nil }
        let path = String(cString: value)
        return path.hasPrefix("/") || path.hasPrefix("@") ? path : nil
    }

    /// Sends `READY=1`, the main pid and a status line naming `endpoints`. Returns nil when there is no
    /// service manager or the message was sent; the error otherwise (the daemon logs it and goes on:
    /// systemd then fails the start after its timeout, which is what a lost message means).
    public static func notifyReady(endpoints: [Endpoint]) -> SystemError? {
        let places = endpoints.map(\.description).joined(separator: " ")
        return send("READY=1\nMAINPID=\(getpid())\nSTATUS=serving on \(places)")
    }

    /// Sends `STOPPING=1`: the daemon is committing what is queued and closing.
    public static func notifyStopping() -> SystemError? {
        send("STOPPING=1\nSTATUS=stopping")
    }

    private static func send(_ message: String) -> SystemError? {
        guard let path = notifySocket else { return nil }
        do throws(SystemError) {
            try Socket.sendDatagram(Array(message.utf8), toUnix: path)
            return nil
        } catch {
            return error
        }
    }
}
