#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking stream socket with a reusable input buffer and output buffer. Subclasses implement
/// `process()`: consume complete requests from `input`, append replies to `output`. The base class reads
/// until the socket would block, writes directly, and watches `EPOLLOUT` only while output is queued.
///
/// Lives on one event loop's thread.
open class Connection: EventHandler, PendingWork {
    public let fd: Int32
    public private(set) var input: ByteBuffer
    /// Replies not sent yet, from `sentIndex` on. Encoders append here.
    public var output: [UInt8] = []
    private var sentIndex = 0
    public private(set) var isClosed = false
    private var watchingWritable = false
    private var readingPaused = false
    /// The loop this connection is registered in.
    public unowned let loop: EventLoop
    /// Stop reading while this many bytes of replies are unsent (back-pressure).
    public var maxPendingOutput = 64 * 1024 * 1024
    /// How many bytes one read asks for.
    public var readChunk = 64 * 1024
    /// The most input that may be buffered (a frame larger than this is refused before it arrives).
    public var maxInput = 80 * 1024 * 1024
    private let initialCapacity = 16 * 1024
    /// When the peer last sent or received bytes, in the loop's milliseconds (`EventLoop.now`).
    public private(set) var lastActivity: Int
    /// Set by a subclass that stopped handling requests because the output reached `maxPendingOutput`
    /// (`isOutputFull`); once the client has read enough, `flush` schedules `process()` again.
    public var waitingForOutputRoom = false

    public init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
        lastActivity = loop.now
        input = ByteBuffer(capacity: initialCapacity)
        output.reserveCapacity(initialCapacity)
    }

    deinit { if !isClosed { Glibc.close(fd) } }

    /// Registers with the loop for reading.
    public func start() throws(SystemError) {
        try loop.register(self, events: Readiness.readable | Readiness.peerClosed)
    }

    /// Override: consume requests from `input` (via `consumeInput`) and append replies to `output`.
    open func process() {}

    /// Override: called once when the connection closes.
    open func didClose() {}

    /// Drops `n` bytes of processed input.
    public func consumeInput(_ n: Int) { input.consume(n) }

    /// Stops or resumes reading (ordering waits, back-pressure). Buffered input is still processed by
    /// explicit `process()` calls.
    public func setReadingPaused(_ paused: Bool) {
        guard paused != readingPaused, !isClosed else { return }
        readingPaused = paused
        updateInterest()
    }

    public var isReadingPaused: Bool { readingPaused }

    private func updateInterest() {
        var events: UInt32 = 0
        if !readingPaused && pendingOutput < maxPendingOutput { events |= Readiness.readable | Readiness.peerClosed }
        if watchingWritable { events |= Readiness.writable }
        if detached {
            detached = false
            try? loop.register(self, events: events)
        } else {
            try? loop.modify(self, events: events)
        }
    }

    private var detached = false

    /// Stops epoll reporting for this connection while it stays open: for a peer that hung up while
    /// answers are still being prepared elsewhere (a hang-up is reported even with no events asked,
    /// so only removal keeps the loop from spinning). The next `flush()` or pause change re-registers.
    public func detach() {
        guard !detached, !isClosed else { return }
        loop.unregister(self)
        detached = true
    }

    /// Bytes of output not sent yet.
    public var pendingOutput: Int { output.count - sentIndex }

    /// Whether the unsent output reached `maxPendingOutput`: a request loop stops before the next
    /// request (so a connection holds at most the limit plus one reply) and sets `waitingForOutputRoom`.
    public var isOutputFull: Bool { pendingOutput >= maxPendingOutput }

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

    public func runPending(loop: EventLoop) {
        guard !isClosed else { return }
        process()
        flush()
    }

    private func readAvailable() {
        var sawEOF = false
        // Bounded: read what is there now, up to a few chunks, then process (fairness across sockets).
        for _ in 0..<4 {
            if input.readableCount >= maxInput { break }
            input.reserveWritable(readChunk)
            let space = input.writable
            let n = Glibc.read(fd, space.baseAddress, min(space.count, maxInput - input.readableCount + 1))
            if n > 0 {
                input.didWrite(n)
                lastActivity = loop.now
                if n < space.count { break }
            } else if n == 0 {
                sawEOF = true
                break
            } else {
                let err = errno
                if err == EINTR { continue }
                if err == EAGAIN || err == EWOULDBLOCK { break }
                close()
                return
            }
        }
        if input.readableCount > 0 { process() }
        if isClosed { return }
        flush()
        if sawEOF && !isClosed { peerClosedWriting() }
    }

    /// The peer shut down its side. Default: close once every reply is out (a half-closed client
    /// such as `nc -q` still gets its answers when none are pending elsewhere).
    open func peerClosedWriting() {
        if pendingOutput == 0 { close() } else { closeAfterFlush = true; setReadingPaused(true) }
    }

    /// Close as soon as the output is sent (after a fatal protocol error, QUIT, or EOF).
    public var closeAfterFlush = false

    /// Override: the peer can no longer receive (EPIPE, ECONNRESET). Return `true` to keep the
    /// connection open without output (to finish work already received); the default closes it.
    open func outputFailed() -> Bool { false }

    /// Override: everything queued has just been sent (called only when this flush sent something).
    /// A connection that streams (WATCH) produces more here; the default does nothing.
    open func outputDrained() {}

    /// Output can no longer be delivered: replies are dropped as they are made.
    public private(set) var outputBroken = false

    /// Writes as much queued output as the socket takes; watches `EPOLLOUT` for the rest.
    public func flush() {
        guard !isClosed else { return }
        if outputBroken {
            discardOutput()
            if closeAfterFlush { close(); return }
            // Requests that waited for output room go on (their replies are dropped), so the
            // connection can finish and close.
            resumeIfOutputHasRoom()
            return
        }
        let hadOutput = sentIndex < output.count
        while sentIndex < output.count {
            let n = output.withUnsafeBytes { buf in
                Glibc.send(fd, buf.baseAddress! + sentIndex, buf.count - sentIndex, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                sentIndex += n
                lastActivity = loop.now
            } else {
                let err = errno
                if n < 0 && err == EINTR { continue }
                if n < 0 && (err == EAGAIN || err == EWOULDBLOCK) { break }
                if outputFailed() {
                    outputBroken = true
                    discardOutput()
                    if watchingWritable { watchingWritable = false; updateInterest() }
                    resumeIfOutputHasRoom()
                    return
                }
                close()
                return
            }
        }
        if sentIndex == output.count {
            output.removeAll(keepingCapacity: output.capacity <= 4 * 1024 * 1024)
            sentIndex = 0
            if closeAfterFlush { close(); return }
            // Back-pressure, if any, ends here too: `updateInterest` derives it from the unsent bytes.
            if watchingWritable { watchingWritable = false; updateInterest() }
            input.shrinkIfIdle(to: initialCapacity * 64)
            resumeIfOutputHasRoom()
            if hadOutput { outputDrained() }
        } else {
            // Drop what was sent once it is half the buffer (a memmove no larger than the bytes sent),
            // so a slow reader's buffer holds unsent replies, not a growing prefix of sent ones.
            if sentIndex >= output.count / 2 {
                output.removeSubrange(0..<sentIndex)
                sentIndex = 0
            }
            if !watchingWritable || isOutputFull {
                watchingWritable = true
                updateInterest()
            }
            resumeIfOutputHasRoom()
        }
    }

    private func resumeIfOutputHasRoom() {
        guard waitingForOutputRoom, !isOutputFull else { return }
        waitingForOutputRoom = false
        processLater()
    }

    /// Drops every reply not sent yet (the peer can no longer receive them).
    private func discardOutput() {
        output.removeAll(keepingCapacity: true)
        sentIndex = 0
    }

    /// Closes the socket now (unsent output is dropped).
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        loop.unregister(self)
        Glibc.close(fd)
        didClose()
    }
}
