import Dispatch
import Locks
import Posix
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// One native-protocol connection shared by any number of concurrent tasks: each call's frame joins an
/// outbox, whoever finds nobody sending writes everything queued in one `send` (so concurrent calls are
/// pipelined without waiting for each other), and a reader on its own dispatch thread matches replies to
/// calls by request id and resumes them. Calls are bounded by a deadline and give up on cancellation;
/// a reply that arrives for a call that gave up is dropped.
final class PipelinedConnection: Sendable {
    private struct Waiter {
        let opcode: Opcode
        let continuation: CheckedContinuation<Reply, any Error>
        let deadline: UInt64
    }

    private struct State {
        var nextID: UInt32 = 1
        var outbox: [UInt8] = []
        var sending = false
        var waiters: [UInt32: Waiter] = [:]
        /// Calls cancelled before their waiter was registered.
        var cancelled: Set<UInt32> = []
        /// Set once the connection failed or was closed; every later call fails with it.
        var failure: ShmKVError?
    }

    private let state = Locked(State())
    private let descriptor: Descriptor
    private let maxFrameSize: Int
    /// How long a call may wait for its reply.
    let timeoutNanoseconds: UInt64

    /// Connects, performs the handshake and authentication (blocking), then starts the reader.
    init(address: ServerAddress, timeoutSeconds: Int, credentials: Credentials?) throws(ShmKVError) {
        let socket = try ClientSocket.open(address: address, timeoutSeconds: timeoutSeconds, credentials: credentials)
        maxFrameSize = max(socket.maxFrameSize, Native.defaultMaxFrameSize)
        descriptor = socket.takeDescriptor()
        timeoutNanoseconds = timeoutSeconds > 0 ? UInt64(timeoutSeconds) * 1_000_000_000 : 0
        // Replies are awaited with poll; sends block only as long as the socket buffer is full.
        var none = timeval()
        setsockopt(descriptor.rawValue, SOL_SOCKET, SO_RCVTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
        DispatchQueue.global().async { [self] in readReplies() }
    }

    /// Whether calls can still be made.
    var isOpen: Bool { state.withLock { $0.failure == nil } }

    /// Calls waiting for replies (for choosing the least busy connection of a pool).
    var pendingCount: Int { state.withLock { $0.waiters.count } }

    /// Fails every waiting call and every later one with `.connection`; the reader then exits and the
    /// descriptor closes when the last reference goes.
    func close() { fail(.connection("the client is closed")) }

    /// Sends `request` and waits for its reply.
    func call(_ request: Request) async throws -> Reply {
        try Task.checkCancellation()
        let id = try state.withLock { state throws(ShmKVError) -> UInt32 in
            if let failure = state.failure { throw failure }
            defer { state.nextID = state.nextID == UInt32.max ? 1 : state.nextID + 1 }
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Reply, any Error>) in
                let deadline = timeoutNanoseconds == 0 ? 0 : UInt64(MonotonicClock.nanoseconds()) + timeoutNanoseconds
                let sendNow: [UInt8]? = state.withLock { state in
                    if state.cancelled.remove(id) != nil {
                        continuation.resume(throwing: CancellationError())
                        return nil
                    }
                    if let failure = state.failure {
                        continuation.resume(throwing: failure)
                        return nil
                    }
                    state.waiters[id] = Waiter(opcode: request.opcode, continuation: continuation, deadline: deadline)
                    request.encode(requestID: id, into: &state.outbox)
                    guard !state.sending else { return nil }
                    state.sending = true
                    defer { state.outbox = [] }
                    return state.outbox
                }
                if let bytes = sendNow { flush(bytes) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                state.cancelled.insert(id)
                return nil
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Sends `bytes`, then whatever other calls queued meanwhile, until the outbox is empty.
    private func flush(_ first: [UInt8]) {
        var bytes = first
        while true {
            if let error = send(bytes) { fail(error); return }
            let next: [UInt8]? = state.withLock { state in
                if state.outbox.isEmpty || state.failure != nil { state.sending = false; return nil }
                defer { state.outbox = [] }
                return state.outbox
            }
            guard let next else { return }
            bytes = next
        }
    }

    private func send(_ bytes: [UInt8]) -> ShmKVError? {
        let fd = descriptor.rawValue
        var offset = 0
        while offset < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                Result { () throws(SystemError) in
                    try syscall("send") { Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL)) }
                }
            }
            switch result {
            case .success(.done(let n)): offset += n
            case .success(.wouldBlock): return .connection("timed out sending to the server")
            case .failure(let error): return .connection(error.message)
            }
        }
        return nil
    }

    /// Records the first failure, fails every waiting call with it and wakes the reader.
    private func fail(_ error: ShmKVError) {
        let waiters = state.withLock { state -> [Waiter] in
            if state.failure == nil { state.failure = error }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: error) }
        shutdown(descriptor.rawValue, Int32(SHUT_RDWR))
    }

    /// The reader: poll, read, decode frames, resume the matching calls; every 100 ms, time out calls
    /// past their deadline. Ends when the connection fails or is closed.
    private func readReplies() {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var start = 0
        var end = 0
        let fd = descriptor.rawValue
        var lastExpiry = MonotonicClock.milliseconds()
        while isOpen {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready < 0 && errno != EINTR { fail(.connection(SystemError.last("poll").message)); return }
            if MonotonicClock.milliseconds() - lastExpiry >= 100 {
                lastExpiry = MonotonicClock.milliseconds()
                expireOverdueCalls()
            }
            guard ready > 0 else { continue }
            if start == end { start = 0; end = 0 }
            if end == buffer.count {
                if start > 0 {
                    buffer.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: end - start) }
                    end -= start
                    start = 0
                } else {
                    guard buffer.count < ClientSocket.maxBuffer else { fail(.protocolViolation("a reply larger than 1 GiB")); return }
                    buffer.append(contentsOf: repeatElement(0, count: buffer.count))
                }
            }
            let filled = end
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, $0.count - filled, 0) }
            if n == 0 { fail(.connection("the server closed the connection")); return }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                fail(.connection(SystemError.last("recv").message))
                return
            }
            end += n
            do throws(WireError) {
                while let consumed = try deliverFrame(buffer, start..<end) { start += consumed }
            } catch {
                fail(.protocolViolation("\(error)"))
                return
            }
        }
    }

    /// Decodes the first frame in `bytes[range]` and resumes its call; the bytes it used, or nil when
    /// the frame is not whole yet.
    private func deliverFrame(_ bytes: [UInt8], _ range: Range<Int>) throws(WireError) -> Int? {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(WireError) -> (Int, Waiter?, Result<Reply, WireError>?)? in
                switch try Native.decodeFrame(UnsafeRawBufferPointer(rebasing: raw[range]), maxFrameSize: maxFrameSize) {
                case .needMore: return nil
                case .frame(let header, let body, let consumed):
                    let waiter = state.withLock { $0.waiters.removeValue(forKey: header.requestID) }
                    guard let waiter else { return (consumed, nil, nil) }
                    let reply = Result { () throws(WireError) in try Reply(header: header, body: body, answering: waiter.opcode) }
                    return (consumed, waiter, reply)
                }
            }
        }
        guard let (consumed, waiter, reply) = try result.get() else { return nil }
        if let waiter, let reply {
            switch reply {
            case .success(let value): waiter.continuation.resume(returning: value)
            case .failure(let error): waiter.continuation.resume(throwing: ShmKVError.protocolViolation("\(error)")); throw error
            }
        }
        return consumed
    }

    private func expireOverdueCalls() {
        guard timeoutNanoseconds > 0 else { return }
        let now = UInt64(MonotonicClock.nanoseconds())
        let overdue = state.withLock { state -> [Waiter] in
            let ids = state.waiters.filter { $0.value.deadline <= now }.map(\.key)
            return ids.compactMap { state.waiters.removeValue(forKey: $0) }
        }
        for waiter in overdue {
            waiter.continuation.resume(throwing: ShmKVError.connection("no reply within \(timeoutNanoseconds / 1_000_000_000) s"))
        }
    }
}
