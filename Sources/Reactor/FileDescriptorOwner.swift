#if canImport(Glibc)
import Locks
import Glibc
#endif

/// Owns one file descriptor and closes it exactly once, from whichever thread gets there first.
public final class OwnedDescriptor: Sendable {
    private let state: Locked<Int32>

    public init(_ fd: Int32) { state = Locked(fd) }

    /// The descriptor, or -1 once closed.
    public var fd: Int32 { state.withLock { $0 } }

    /// Closes the descriptor; later calls do nothing.
    public func close() {
        let fd = state.withLock { fd in
            defer { fd = -1 }
            return fd
        }
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    deinit { close() }
}
