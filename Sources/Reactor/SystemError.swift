#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, and the errno it left.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public let call: String
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// What a non-blocking call did.
public enum IOResult<T> {
    case done(T)
    /// EAGAIN / EWOULDBLOCK: try again when epoll says so.
    case wouldBlock
}

/// The one place a syscall's return value becomes a Swift result: retries `EINTR`, turns `EAGAIN` into
/// `.wouldBlock`, and throws a `SystemError` naming the call otherwise.
@inline(__always)
public func syscall<T: FixedWidthInteger>(_ call: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> IOResult<T> {
    while true {
        let rc = body()
        if rc >= 0 { return .done(rc) }
        let err = Glibc.errno
        if err == EINTR { continue }
        if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
        throw SystemError(call: call(), errno: err)
    }
}

/// `syscall` for calls that never block: `.wouldBlock` is an error there.
@inline(__always)
@discardableResult
public func syscallBlocking<T: FixedWidthInteger>(_ call: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T {
    switch try syscall(call(), body) {
    case .done(let v): return v
    case .wouldBlock: throw SystemError(call: call(), errno: EAGAIN)
    }
}
