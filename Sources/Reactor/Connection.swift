import Posix
#if canImport(Glibc)
import Glibc
#endif

/// Where a connection is in its life. Every transition is one of the methods named beside it; what epoll
/// watches follows from the state (and from the request loop's `pause`), so no flags must agree.
public enum ConnectionState: Equatable, Sendable {
    /// Reading requests and sending replies.
    case open
    /// The peer shut its sending side (`peerClosedWriting`): nothing more arrives, but every request
    /// received is still answered, and the connection closes once that is done (`finish()`).
    case inputClosed
    /// The peer can no longer receive (`send` failed with EPIPE or ECONNRESET; `outputFailed`): replies
    /// are dropped as they are made, requests received are still carried out, then it closes.
    case outputBroken
    /// Sending what is queued, then closing (`closeAfterFlush()`: QUIT, a fatal protocol error, a refusal,
    /// or the last reply to a peer that left). Reads nothing more.
    case closing
    /// Closed (`close()`); the descriptor is released.
    case closed
}

/// Why a connection's request loop stopped with requests still in its input.
public enum RequestPause: Equatable, Sendable {
    /// Not paused: the loop consumed everything it could.
    case none
    /// This turn's share of requests is spent (fairness); it runs again on the next loop iteration.
    case yielded
    /// The unsent output reached `maxPendingOutput`; it runs again once the client has read enough.
    case outputFull
    /// A request waits for work handed elsewhere (the writer thread); reading stops until the owner
    /// calls `resume()`.
    case waitingForCompletion
}

/// A non-blocking stream socket with a reusable input buffer and output buffer. Subclasses implement
/// `process()`: consume complete requests from `input`, append replies to `output`. The base class reads
/// until the socket would block, writes directly, and watches `EPOLLOUT` only while a send would block.
///
/// Lives on one event loop's thread.
open class Connection: EventHandler, PendingWork {
    /// The socket's number, for epoll and logging; valid until `close()`.
    public let fd: Int32
    private var descriptor: Descriptor?
    /// Bytes read and not yet consumed by `process()`; bounded by `maxInput`.
    public private(set) var input: ByteBuffer
    /// Replies not sent yet, from `sentIndex` on. Encoders append here.
    public var output: [UInt8] = []
    private var sentIndex = 0
    /// The connection's life (see `ConnectionState`).
    public private(set) var state: ConnectionState = .open
    /// Why the request loop stopped early, if it did (set by the subclass's loop through `pause(_:)`).
    public private(set) var pause: RequestPause = .none
    /// The last send found the socket's buffer full: watch `EPOLLOUT` until the output drains.
    private var sendBlocked = false
    /// What epoll watches now; nil while the connection is out of the epoll set (see `updateInterest`).
    private var registeredEvents: UInt32? = nil
    /// The loop this connection is registered in.
    public unowned let loop: EventLoop
    /// Stop reading while this many bytes of replies are unsent (back-pressure).
    public var maxPendingOutput = 64 * 1024 * 1024
    /// How many bytes one read asks for.
    public var readChunk = 64 * 1024
    /// The most input that may be buffered (a frame larger than this is refused before it arrives).
    public var maxInput = 80 * 1024 * 1024
    /// An idle input buffer larger than this (grown for one large request) is given back.
    private let idleInputCapacity = 1024 * 1024
    /// When the peer last sent or received bytes, in the loop's milliseconds (`EventLoop.now`).
    public private(set) var lastActivity: Int

    /// Takes ownership of a connected, non-blocking socket.
    public init(descriptor: consuming Descriptor, loop: EventLoop) {
        fd = descriptor.rawValue
        self.descriptor = consume descriptor
        self.loop = loop
        lastActivity = loop.now
        // Both buffers grow on first use (the first read reserves `readChunk`) and are then reused: an
        // idle connection holds no buffer pages (10,000 idle connections cost about 1 KiB each, not 8).
        input = ByteBuffer(capacity: 0)
    }

    /// Registers with the loop for reading.
    public func start() throws(SystemError) {
        let events = Readiness.readable | Readiness.peerClosed
        try loop.register(self, events: events)
        registeredEvents = events
    }

    /// Whether `close()` has run (the descriptor is released).
    public var isClosed: Bool { state == .closed }

    /// Override: consume requests from `input` (via `consumeInput`) and append replies to `output`.
    open func process() {}

    /// Override: called once when the connection closes.
    open func didClose() {}

    /// Drops `n` bytes of processed input.
    public func consumeInput(_ n: Int) { input.consume(n) }

    /// Bytes of output not sent yet.
    public var pendingOutput: Int { output.count - sentIndex }

    /// Whether the unsent output reached `maxPendingOutput`: a request loop stops before the next
    /// request (so a connection holds at most the limit plus one reply) with `pause(.outputFull)`.
    public var isOutputFull: Bool { pendingOutput >= maxPendingOutput }

    // MARK: Transitions

    /// The request loop stopped with requests left (`.yielded` schedules the next turn itself).
    public func pause(_ why: RequestPause) {
        pause = why
        if why == .yielded { processLater() }
        updateInterest()
    }

    /// The request loop starts a turn; false while it waits for a completion (`resume()` runs it then).
    public func beginTurn() -> Bool {
        switch pause {
        case .waitingForCompletion: return false
        case .none: return true
        case .yielded, .outputFull:
            pause = .none
            return true
        }
    }

    /// Work the loop waited for has completed: run the requests that waited for it.
    public func resume() {
        guard pause == .waitingForCompletion, !isClosed else { return }
        pause = .none
        updateInterest()
        process()
    }

    /// Override: whether the peer's hang-up must be seen even while the request loop waits for a
    /// completion (a client blocked on keys for as long as it likes: its going must end the wait).
    open var watchesPeerWhileWaiting: Bool { false }

    /// Whether work received is still to be done: the loop is paused with requests left (the subclass
    /// adds its own, such as writes in flight).
    open var hasUnfinishedWork: Bool { pause != .none }

    /// Sends what is queued, then closes; reads nothing more.
    public func closeAfterFlush() {
        switch state {
        case .closed: return
        case .outputBroken: return close()
        case .open, .inputClosed, .closing: state = .closing
        }
        if pendingOutput == 0 { return close() }
        updateInterest()
    }

    /// With the peer gone (input closed or output broken), closes once nothing received is left to do.
    public func finishIfPeerGone() {
        guard state == .inputClosed || state == .outputBroken, !hasUnfinishedWork else { return }
        closeAfterFlush()
    }

    /// Closes the socket now (unsent output is dropped).
    public func close() {
        guard state != .closed else { return }
        state = .closed
        if registeredEvents != nil { loop.unregister(self) }
        registeredEvents = nil
        descriptor.take()?.close()
        didClose()
    }

    /// Watches what the state asks for. A peer that hung up is reported by epoll even with no events
    /// asked, so a connection of such a peer with nothing to watch leaves the epoll set instead of
    /// making the loop spin; it comes back when it has something to send.
    private func updateInterest() {
        guard state != .closed else { return }
        var events: UInt32 = 0
        if state == .open && pause != .waitingForCompletion && pendingOutput < maxPendingOutput {
            events |= Readiness.readable | Readiness.peerClosed
        } else if state == .open && pause == .waitingForCompletion && watchesPeerWhileWaiting {
            events |= Readiness.peerClosed
        }
        if sendBlocked && state != .outputBroken { events |= Readiness.writable }
        if events == 0 && state != .open {
            if registeredEvents != nil { loop.unregister(self); registeredEvents = nil }
            return
        }
        guard events != registeredEvents else { return }
        if registeredEvents == nil {
            try? loop.register(self, events: events)
        } else {
            try? loop.modify(self, events: events)
        }
        registeredEvents = events
    }

    // MARK: Events

    /// Dispatches epoll readiness: writable flushes, readable (or a hang-up) reads and processes.
    public func handle(events: UInt32, loop: EventLoop) {
        if events & Readiness.writable != 0 {
            flush()
            if isClosed { return }
        }
        if events & (Readiness.readable | Readiness.hangUp | Readiness.error | Readiness.peerClosed) != 0 {
            readAvailable()
        }
    }

    /// Asks for another `process()` on the next loop iteration (used when a round was capped).
    public func processLater() { loop.schedule(self) }

    /// A turn scheduled by `processLater()`: processes buffered input and flushes.
    public func runPending(loop: EventLoop) {
        guard !isClosed else { return }
        process()
        flush()
    }

    private func readAvailable() {
        var sawEOF = false
        // Bounded: read what is there now, up to a few chunks, then process (fairness across sockets).
        reading: for _ in 0..<4 {
            if input.readableCount >= maxInput { break }
            input.reserveWritable(readChunk)
            let space = input.writable
            let want = min(space.count, maxInput - input.readableCount + 1)
            let result: IOResult<Int>
            do { result = try syscall("read") { Glibc.read(fd, space.baseAddress, want) } } catch {
                // ECONNRESET and the like: the peer is gone.
                close()
                return
            }
            switch result {
            case .wouldBlock:
                break reading
            case .done(0):
                sawEOF = true
                break reading
            case .done(let n):
                input.didWrite(n)
                lastActivity = loop.now
                if n < space.count { break reading }
            }
        }
        if input.readableCount > 0 { process() }
        if isClosed { return }
        flush()
        if sawEOF && state == .open { peerClosedWriting() }
    }

    /// The peer shut down its side: every request received is still answered, then the connection
    /// closes (a half-closed client such as `nc -q` gets its answers).
    open func peerClosedWriting() {
        state = .inputClosed
        updateInterest()
        finishIfPeerGone()
    }

    /// Override: everything queued has just been sent (called only when this flush sent something).
    /// A connection that streams (WATCH) produces more here; the default does nothing.
    open func outputDrained() {}

    /// Writes as much queued output as the socket takes; watches `EPOLLOUT` for the rest.
    public func flush() {
        switch state {
        case .closed:
            return
        case .outputBroken:
            discardOutput()
            // Requests that waited for output room go on (their replies are dropped), so the
            // connection can finish and close.
            resumeIfOutputHasRoom()
            return
        case .open, .inputClosed, .closing:
            break
        }
        let hadOutput = sentIndex < output.count
        while sentIndex < output.count {
            let result: IOResult<Int>
            do {
                result = try output.withUnsafeBytes { buf throws(SystemError) in
                    try syscall("send") { Glibc.send(fd, buf.baseAddress! + sentIndex, buf.count - sentIndex, Int32(MSG_NOSIGNAL)) }
                }
            } catch {
                return sendFailed()
            }
            guard case .done(let n) = result else { break }
            sentIndex += n
            lastActivity = loop.now
        }
        if sentIndex == output.count {
            output.removeAll(keepingCapacity: output.capacity <= 4 * 1024 * 1024)
            sentIndex = 0
            sendBlocked = false
            if state == .closing { close(); return }
            // Back-pressure, if any, ends here too: `updateInterest` derives it from the unsent bytes.
            updateInterest()
            input.shrinkIfIdle(to: idleInputCapacity)
            resumeIfOutputHasRoom()
            if hadOutput { outputDrained() }
        } else {
            // Drop what was sent once it is half the buffer (a memmove no larger than the bytes sent),
            // so a slow reader's buffer holds unsent replies, not a growing prefix of sent ones.
            if sentIndex >= output.count / 2 {
                output.removeSubrange(0..<sentIndex)
                sentIndex = 0
            }
            sendBlocked = true
            updateInterest()
            resumeIfOutputHasRoom()
        }
    }

    /// The peer can no longer receive: a connection with work left finishes it without output; one
    /// with none (or one that was closing anyway) closes now.
    private func sendFailed() {
        guard state != .closing, hasUnfinishedWork else { return close() }
        state = .outputBroken
        sendBlocked = false
        discardOutput()
        updateInterest()
        resumeIfOutputHasRoom()
    }

    /// A loop paused on a full output runs again on the next iteration (still counted as paused until
    /// then, so a connection whose peer left meanwhile does not close with requests unanswered).
    private func resumeIfOutputHasRoom() {
        guard pause == .outputFull, !isOutputFull else { return }
        pause = .yielded
        processLater()
    }

    /// Drops every reply not sent yet (the peer can no longer receive them).
    private func discardOutput() {
        output.removeAll(keepingCapacity: true)
        sentIndex = 0
    }
}
