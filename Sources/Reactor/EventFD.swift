import CShim
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking eventfd: the cross-thread doorbell of an event loop or the writer thread. Closed when
/// the last reference goes.
public final class EventFD: Sendable {
    private let descriptor: Descriptor
    /// The eventfd's number (for epoll).
    public var fd: Int32 { descriptor.rawValue }

    /// A new eventfd (non-blocking, close-on-exec), closed with this object.
    public init() throws(SystemError) {
        descriptor = Descriptor(adopting: try syscallBlocking("eventfd") { shim_eventfd(0, SHIM_EFD_NONBLOCK | SHIM_EFD_CLOEXEC) })
    }

    /// Rings the bell (safe from any thread; never blocks). A counter already at its maximum
    /// (EAGAIN) has rung anyway; any other failure is a bug.
    public func signal() {
        var one: UInt64 = 1
        _ = try? syscall("write(eventfd)") { withUnsafeBytes(of: &one) { Glibc.write(fd, $0.baseAddress, 8) } }
    }

    /// Clears the bell; returns whether it had rung.
    @discardableResult
    public func drain() -> Bool {
        var value: UInt64 = 0
        let result = try? syscall("read(eventfd)") { withUnsafeMutableBytes(of: &value) { Glibc.read(fd, $0.baseAddress, 8) } }
        if case .done(8)? = result { return true }
        return false
    }

    /// Blocks up to `timeoutMilliseconds` (-1: forever) until the bell rings, then clears it.
    /// Returns whether it rang.
    @discardableResult
    public func wait(timeoutMilliseconds: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = syscallOrDie("poll(eventfd)") { poll(&p, 1, timeoutMilliseconds) }
        return ready > 0 && drain()
    }
}
