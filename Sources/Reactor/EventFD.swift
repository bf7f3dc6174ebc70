import CShim
#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking eventfd: the cross-thread doorbell of an event loop or the writer thread.
public final class EventFD: Sendable {
    private let owner: OwnedDescriptor
    public var fd: Int32 { owner.fd }

    public init() throws(SystemError) {
        let fd = try syscallBlocking("eventfd") { shim_eventfd(0, SHIM_EFD_NONBLOCK | SHIM_EFD_CLOEXEC) }
        owner = OwnedDescriptor(fd)
    }

    /// Rings the bell (safe from any thread; never blocks).
    public func signal() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(fd, $0.baseAddress, 8) }
    }

    /// Clears the bell; returns whether it had rung.
    @discardableResult
    public func drain() -> Bool {
        var value: UInt64 = 0
        let n = withUnsafeMutableBytes(of: &value) { Glibc.read(fd, $0.baseAddress, 8) }
        return n == 8
    }

    /// Blocks up to `timeoutMilliseconds` (-1: forever) until the bell rings, then clears it.
    /// Returns whether it rang.
    @discardableResult
    public func wait(timeoutMilliseconds: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let rc = poll(&p, 1, timeoutMilliseconds)
        return rc > 0 && drain()
    }

    public func close() { owner.close() }
}
