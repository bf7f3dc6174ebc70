#if canImport(Glibc)
import Glibc
#endif

/// An open file descriptor that one owner closes exactly once: the type cannot be copied, `close()`
/// consumes it, and one that is dropped without `close()` is closed by its `deinit`. Borrow it to use
/// the number (`rawValue`); hand it over with `consume` to move ownership.
public struct Descriptor: ~Copyable, Sendable {
    /// The kernel's number for it, valid while this value lives.
    public let rawValue: Int32

    /// Takes ownership of `fd` (which must be open and owned by nobody else).
    public init(adopting fd: Int32) {
        precondition(fd >= 0, "a Descriptor needs an open descriptor, not \(fd)")
        rawValue = fd
    }

    /// Closes it now. A failure other than EINTR (the descriptor is gone either way on Linux) is a bug.
    public consuming func close() {
        let fd = rawValue
        discard self
        Descriptor.close(fd)
    }

    /// Gives up ownership without closing: the caller owns the number returned (to hand it to
    /// another thread, where `init(adopting:)` takes it back).
    public consuming func relinquish() -> Int32 {
        let fd = rawValue
        discard self
        return fd
    }

    deinit { Descriptor.close(rawValue) }

    private static func close(_ fd: Int32) {
        // Linux releases the descriptor even when close reports EINTR: never retry it.
        if Glibc.close(fd) != 0 && errno != EINTR {
            fatalError("close(\(fd)) failed with errno \(errno): a bug in ShmKV (closed twice?)")
        }
    }
}
