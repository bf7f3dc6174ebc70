import CShim
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Something an event loop dispatches readiness to.
public protocol EventHandler: AnyObject {
    /// The descriptor registered for this handler.
    var fd: Int32 { get }
    /// Called on the loop's thread with epoll's event bits.
    func handle(events: UInt32, loop: EventLoop)
}

/// Something with work left over after a capped round (fairness), run again on the next iteration.
public protocol PendingWork: AnyObject {
    func runPending(loop: EventLoop)
}

/// Epoll readiness bits, named.
public enum Readiness {
    public static let readable = SHIM_EPOLLIN
    public static let writable = SHIM_EPOLLOUT
    public static let error = SHIM_EPOLLERR
    public static let hangUp = SHIM_EPOLLHUP
    public static let peerClosed = SHIM_EPOLLRDHUP
    public static let exclusive = SHIM_EPOLLEXCLUSIVE
}

/// One epoll instance on one thread, level-triggered. Everything but `wake()` and `stop()` must be
/// called on the loop's own thread.
public final class EventLoop: @unchecked Sendable {
    // Invariant: `handlers`, `pending` and the hooks are touched only by the loop's thread; other
    // threads use only `wake()`/`stop()`, which go through the eventfd and an atomic.
    private let epfd: Int32
    private let doorbell: EventFD
    private var handlers: [EventHandler?] = []
    private var pending: [PendingWork] = []
    private let stopping = Atomic<Bool>(false)
    private var events = [shim_epoll_event](repeating: shim_epoll_event(), count: 256)
    private var timers: [(deadline: Int, action: () -> Void)] = []

    /// Runs on the loop thread after the doorbell rang (cross-thread completions).
    public var onWake: (() -> Void)?
    /// Runs once per iteration after events were handled, before waiting again.
    public var beforeWait: (() -> Void)?
    /// Runs once per iteration right after epoll_wait returns, before any event is handled.
    public var afterWait: (() -> Void)?
    /// Monotonic milliseconds, read once per iteration after the wait (a clock for idle timeouts that
    /// costs no system call per request).
    public private(set) var now = EventLoop.nowMilliseconds()
    /// How long one wait may last in milliseconds (-1: until an event). Housekeeping hooks rely on it.
    public var waitTimeoutMilliseconds: Int32 = 1000

    public init() throws(SystemError) {
        epfd = try syscallBlocking("epoll_create1") { shim_epoll_create() }
        doorbell = try EventFD()
        try syscallBlocking("epoll_ctl(eventfd)") { shim_epoll_ctl(epfd, SHIM_EPOLL_CTL_ADD, doorbell.fd, SHIM_EPOLLIN, UInt64(UInt32(bitPattern: -1))) }
    }

    deinit {
        Glibc.close(epfd)
    }

    /// Registers `handler` for `events`. `exclusive` adds `EPOLLEXCLUSIVE` (listeners shared by loops).
    public func register(_ handler: EventHandler, events: UInt32, exclusive: Bool = false) throws(SystemError) {
        let fd = handler.fd
        let bits = exclusive ? events | Readiness.exclusive : events
        try syscallBlocking("epoll_ctl(ADD \(fd))") { shim_epoll_ctl(epfd, SHIM_EPOLL_CTL_ADD, fd, bits, UInt64(fd)) }
        if handlers.count <= Int(fd) { handlers.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - handlers.count)) }
        handlers[Int(fd)] = handler
    }

    /// Changes the events watched for a registered handler.
    public func modify(_ handler: EventHandler, events: UInt32) throws(SystemError) {
        let fd = handler.fd
        try syscallBlocking("epoll_ctl(MOD \(fd))") { shim_epoll_ctl(epfd, SHIM_EPOLL_CTL_MOD, fd, events, UInt64(fd)) }
    }

    /// Stops watching a handler (call before closing its descriptor).
    public func unregister(_ handler: EventHandler) {
        let fd = handler.fd
        _ = shim_epoll_ctl(epfd, SHIM_EPOLL_CTL_DEL, fd, 0, 0)
        if Int(fd) < handlers.count, handlers[Int(fd)] === handler { handlers[Int(fd)] = nil }
    }

    /// Asks for `work.runPending` on the next iteration (without waiting for an event).
    public func schedule(_ work: PendingWork) {
        pending.append(work)
    }

    /// Runs `action` on this loop's thread once `milliseconds` have passed (checked once per iteration).
    public func schedule(afterMilliseconds milliseconds: Int, _ action: @escaping () -> Void) {
        timers.append((EventLoop.nowMilliseconds() + milliseconds, action))
    }

    public static func nowMilliseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }

    /// Wakes the loop from any thread; `onWake` runs on the loop's thread.
    public func wake() { doorbell.signal() }

    /// Makes `run()` return after the current iteration (from any thread).
    public func stop() {
        stopping.store(true, ordering: .releasing)
        doorbell.signal()
    }

    /// Whether `stop()` was called.
    public var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        while !stopping.load(ordering: .acquiring) {
            runOnce(timeoutMilliseconds: pending.isEmpty ? waitTimeoutMilliseconds : 0)
        }
    }

    /// One iteration: wait, dispatch, run pending work and hooks.
    public func runOnce(timeoutMilliseconds: Int32) {
        var timeout = timeoutMilliseconds
        // A timer is always there (each reactor's once-a-second housekeeping): find the earliest
        // without building an array, and look for due timers only once it is due.
        var earliest = Int.max
        for timer in timers where timer.deadline < earliest { earliest = timer.deadline }
        if earliest != Int.max {
            let untilNext = Int32(clamping: max(0, earliest - now))
            timeout = timeout < 0 ? untilNext : min(timeout, untilNext)
        }
        let n = events.withUnsafeMutableBufferPointer { buf in
            shim_epoll_wait(epfd, buf.baseAddress, Int32(buf.count), timeout)
        }
        now = EventLoop.nowMilliseconds()
        afterWait?()
        if n > 0 {
            for i in 0..<Int(n) {
                let event = events[i]
                if event.data == UInt64(UInt32(bitPattern: -1)) {
                    doorbell.drain()
                    onWake?()
                    continue
                }
                let fd = Int(event.data)
                if fd < handlers.count, let handler = handlers[fd] {
                    handler.handle(events: event.events, loop: self)
                }
            }
        }
        if earliest <= now {
            let now = self.now
            let due = timers.filter { $0.deadline <= now }
            timers.removeAll { $0.deadline <= now }
            for timer in due { timer.action() }
        }
        if !pending.isEmpty {
            let work = pending
            pending.removeAll(keepingCapacity: true)
            for w in work { w.runPending(loop: self) }
        }
        beforeWait?()
    }
}
