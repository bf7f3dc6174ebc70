import CShim
import HeapModule
import Posix
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
    /// EPOLLIN: input (or EOF) to read.
    public static let readable = SHIM_EPOLLIN
    /// EPOLLOUT: room to send.
    public static let writable = SHIM_EPOLLOUT
    /// EPOLLERR: always reported.
    public static let error = SHIM_EPOLLERR
    /// EPOLLHUP: both directions closed; always reported.
    public static let hangUp = SHIM_EPOLLHUP
    /// EPOLLRDHUP: the peer shut its sending side.
    public static let peerClosed = SHIM_EPOLLRDHUP
    /// EPOLLEXCLUSIVE: one of the loops sharing a listener is woken, not all.
    public static let exclusive = SHIM_EPOLLEXCLUSIVE
}

/// One epoll instance on one thread, level-triggered. Everything but `wake()` and `stop()` must be
/// called on the loop's own thread. A turn allocates nothing: due timers come off a heap, and pending
/// work is swapped between two reused arrays.
public final class EventLoop: @unchecked Sendable {
    // Invariant: `handlers`, `pending`, `timers` and the hooks are touched only by the loop's thread;
    // other threads use only `wake()`/`stop()`, which go through the eventfd and an atomic.
    private let epoll: Descriptor
    private let doorbell: EventFD
    private var handlers: [EventHandler?] = []
    private var pending: [PendingWork] = []
    private var running: [PendingWork] = []
    private let stopping = Atomic<Bool>(false)
    private var events = [shim_epoll_event](repeating: shim_epoll_event(), count: 256)
    /// `handleReadyEvents`'s own (the iteration it runs inside still reads `events`).
    private var nestedEvents = [shim_epoll_event](repeating: shim_epoll_event(), count: 64)
    private var handlingNested = false
    private var timers = Heap<Timer>()
    private var timersScheduled: UInt64 = 0
    /// The thread that runs the loop, noted at its first iteration (before it, setting up from another
    /// thread is allowed).
    private var owner: pthread_t?
    /// The epoll tag of the doorbell (never a descriptor number).
    private static let doorbellTag = UInt64(UInt32.max)

    /// Runs on the loop thread after the doorbell rang (cross-thread completions).
    public var onWake: (() -> Void)?
    /// Runs once per iteration after events were handled, before waiting again.
    public var beforeWait: (() -> Void)?
    /// Runs once per iteration right after epoll_wait returns, before any event is handled.
    public var afterWait: (() -> Void)?
    /// Monotonic milliseconds, read once per iteration after the wait (a clock for idle timeouts that
    /// costs no system call per request).
    public private(set) var now = MonotonicClock.milliseconds()
    /// How long one wait may last in milliseconds (-1: until an event or a timer).
    public var waitTimeoutMilliseconds: Int32 = 1000

    /// A new epoll instance with its doorbell registered; nothing runs until `run()` or `runOnce`.
    public init() throws(SystemError) {
        epoll = Descriptor(adopting: try syscallBlocking("epoll_create1") { shim_epoll_create() })
        doorbell = try EventFD()
        try syscallBlocking("epoll_ctl(ADD eventfd)") {
            shim_epoll_ctl(epoll.rawValue, SHIM_EPOLL_CTL_ADD, doorbell.fd, SHIM_EPOLLIN, EventLoop.doorbellTag)
        }
    }

    /// Debug builds trap when loop-owned state is touched from a thread other than the loop's (once the
    /// loop has run); release builds compile this to nothing.
    @inline(__always)
    public func assertOnLoopThread(file: StaticString = #fileID, line: UInt = #line) {
        assert(owner.map { pthread_equal($0, pthread_self()) != 0 } ?? true, "loop-owned state touched off its loop's thread",
               file: file, line: line)
    }

    /// Registers `handler` for `events`. `exclusive` adds `EPOLLEXCLUSIVE` (listeners shared by loops).
    public func register(_ handler: EventHandler, events: UInt32, exclusive: Bool = false) throws(SystemError) {
        assertOnLoopThread()
        let fd = handler.fd
        let bits = exclusive ? events | Readiness.exclusive : events
        try syscallBlocking("epoll_ctl(ADD \(fd))") { shim_epoll_ctl(epoll.rawValue, SHIM_EPOLL_CTL_ADD, fd, bits, UInt64(fd)) }
        if handlers.count <= Int(fd) { handlers.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - handlers.count)) }
        handlers[Int(fd)] = handler
    }

    /// Changes the events watched for a registered handler.
    public func modify(_ handler: EventHandler, events: UInt32) throws(SystemError) {
        assertOnLoopThread()
        let fd = handler.fd
        try syscallBlocking("epoll_ctl(MOD \(fd))") { shim_epoll_ctl(epoll.rawValue, SHIM_EPOLL_CTL_MOD, fd, events, UInt64(fd)) }
    }

    /// Stops watching a handler (call before closing its descriptor). A handler that is not registered
    /// (ENOENT) is left as it is.
    public func unregister(_ handler: EventHandler) {
        assertOnLoopThread()
        let fd = handler.fd
        _ = try? syscallBlocking("epoll_ctl(DEL \(fd))") { shim_epoll_ctl(epoll.rawValue, SHIM_EPOLL_CTL_DEL, fd, 0, 0) }
        if Int(fd) < handlers.count, handlers[Int(fd)] === handler { handlers[Int(fd)] = nil }
    }

    /// Asks for `work.runPending` on the next iteration (without waiting for an event).
    public func schedule(_ work: PendingWork) {
        assertOnLoopThread()
        pending.append(work)
    }

    /// Runs `action` on this loop's thread once `milliseconds` have passed (checked once per iteration;
    /// timers due at the same moment run in the order they were scheduled).
    public func schedule(afterMilliseconds milliseconds: Int, _ action: @escaping () -> Void) {
        assertOnLoopThread()
        timersScheduled &+= 1
        timers.insert(Timer(deadline: MonotonicClock.milliseconds() + milliseconds, order: timersScheduled, action: action))
    }

    /// Wakes the loop from any thread; `onWake` runs on the loop's thread.
    public func wake() { doorbell.signal() }

    /// Makes `run()` return after the current iteration (from any thread).
    public func stop() {
        stopping.store(true, ordering: .releasing)
        doorbell.signal()
    }

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        while !stopping.load(ordering: .acquiring) {
            runOnce(timeoutMilliseconds: pending.isEmpty ? waitTimeoutMilliseconds : 0)
        }
    }

    /// Whether the calling thread is the loop's.
    public var isOnLoopThread: Bool { owner.map { pthread_equal($0, pthread_self()) != 0 } ?? false }

    /// From inside a handler that holds the loop's thread for long (Redis's `processEventsWhileBlocked`
    /// during a busy script): the events ready now are handled once, without waiting — but those of
    /// `skipped` (the handler that is running) and the doorbell, which stay ready (level-triggered) for
    /// the loop's next iteration. No timers, pending work or hooks run. Not re-entered.
    public func handleReadyEvents(skipping skipped: Int32?) {
        assertOnLoopThread()
        guard !handlingNested else { return }
        handlingNested = true
        defer { handlingNested = false }
        let n = nestedEvents.withUnsafeMutableBufferPointer { buf in
            syscallOrDie("epoll_wait") { shim_epoll_wait(epoll.rawValue, buf.baseAddress, Int32(buf.count), 0) }
        }
        now = MonotonicClock.milliseconds()
        for i in 0..<Int(n) {
            let event = nestedEvents[i]
            guard event.data != EventLoop.doorbellTag else { continue }
            let fd = Int(event.data)
            if fd == skipped.map(Int.init) { continue }
            if fd < handlers.count, let handler = handlers[fd] {
                handler.handle(events: event.events, loop: self)
            }
        }
    }

    /// One iteration: wait (no longer than the earliest timer), dispatch, run due timers, pending work
    /// and hooks.
    public func runOnce(timeoutMilliseconds: Int32) {
        if owner == nil { owner = pthread_self() }
        assertOnLoopThread()
        var timeout = timeoutMilliseconds
        if let earliest = timers.min?.deadline {
            let untilNext = Int32(clamping: max(0, earliest - now))
            timeout = timeout < 0 ? untilNext : min(timeout, untilNext)
        }
        let n = events.withUnsafeMutableBufferPointer { buf in
            // EINTR is retried; any other failure of epoll_wait on our own epoll set is a bug.
            syscallOrDie("epoll_wait") { shim_epoll_wait(epoll.rawValue, buf.baseAddress, Int32(buf.count), timeout) }
        }
        now = MonotonicClock.milliseconds()
        afterWait?()
        for i in 0..<Int(n) {
            let event = events[i]
            if event.data == EventLoop.doorbellTag {
                doorbell.drain()
                onWake?()
                continue
            }
            let fd = Int(event.data)
            if fd < handlers.count, let handler = handlers[fd] {
                handler.handle(events: event.events, loop: self)
            }
        }
        while let earliest = timers.min, earliest.deadline <= now {
            timers.removeMin().action()
        }
        if !pending.isEmpty {
            swap(&pending, &running)
            for work in running { work.runPending(loop: self) }
            running.removeAll(keepingCapacity: true)
        }
        beforeWait?()
    }
}

/// An action due at a deadline (loop milliseconds); ordered by deadline, then by when it was scheduled.
private struct Timer: Comparable {
    let deadline: Int
    let order: UInt64
    let action: () -> Void

    static func < (a: Timer, b: Timer) -> Bool { (a.deadline, a.order) < (b.deadline, b.order) }
    static func == (a: Timer, b: Timer) -> Bool { a.deadline == b.deadline && a.order == b.order }
}
