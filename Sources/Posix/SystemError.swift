import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// errno as a typed value with readable names (`.wouldBlock`, `.tooManyOpenFiles`), from swift-system:
/// a `RawRepresentable` `Int32` that `catch` can pattern-match.
public typealias Errno = SystemPackage.Errno

/// The project's one error for a failed system call: which call, and the errno it left.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The call and its interesting argument, e.g. `open(/dev/shm/x.ring)`.
    public let call: String
    /// What the call left in `errno`.
    public let errno: Errno

    /// An error for `call` with `errno`.
    public init(call: String, errno: Errno) {
        self.call = call
        self.errno = errno
    }

    /// The error the last failed call left in `errno`.
    public static func last(_ call: String) -> SystemError { SystemError(call: call, errno: Errno(rawValue: Glibc.errno)) }

    /// The call, `strerror`'s text and the number.
    public var description: String { "\(call): \(String(cString: strerror(errno.rawValue))) (errno \(errno.rawValue))" }
}

/// What a non-blocking call did.
public enum IOResult<T> {
    /// The call succeeded with this result.
    case done(T)
    /// EAGAIN / EWOULDBLOCK: try again when epoll says so.
    case wouldBlock
}

/// The one place a system call's return value becomes a Swift result (after NIO's `syscall`): retries
/// `EINTR`, turns `EAGAIN` into `.wouldBlock`, stops the process on `EBADF` and `EFAULT` (a descriptor
/// or pointer this process got wrong is a bug, not a condition to handle), and throws a `SystemError`
/// naming the call otherwise. Costs nothing beyond the call on success: `name` is built only on failure.
@inline(__always)
public func syscall<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> IOResult<T> {
    while true {
        let rc = body()
        if rc >= 0 { return .done(rc) }
        let err = Glibc.errno
        if err == EINTR { continue }
        if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
        if err == EBADF || err == EFAULT { programmerError(name(), err) }
        throw SystemError(call: name(), errno: Errno(rawValue: err))
    }
}

/// `syscall` for calls that never block: `.wouldBlock` is an error there.
@inline(__always)
@discardableResult
public func syscallBlocking<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T {
    switch try syscall(name(), body) {
    case .done(let v): return v
    case .wouldBlock: throw SystemError(call: name(), errno: .wouldBlock)
    }
}

/// A call that must not fail for any reason but a bug (closing an owned descriptor, `epoll_ctl` on a
/// registered one): EINTR retried, anything else stops the process with the call's name.
@inline(__always)
@discardableResult
public func syscallOrDie<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) -> T {
    do throws(SystemError) {
        if case .done(let v) = try syscall(name(), body) { return v }
        programmerError(name(), EAGAIN)
    } catch {
        programmerError(name(), error.errno.rawValue)
    }
}

private func programmerError(_ call: String, _ err: Int32) -> Never {
    fatalError("\(call) failed with \(String(cString: strerror(err))) (errno \(err)): a bug in ShmKV")
}
