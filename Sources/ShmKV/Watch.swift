import Locks
import NotifyRing
import Wire

extension Client {
    /// Follows changes over the socket (for processes that cannot map the data directory: another
    /// user, another host through TCP). Opens a connection of its own for the stream, so this client
    /// stays usable. Events and resyncs mean the same as with `LocalStore.subscribe`.
    /// - Parameters:
    ///   - prefix: only keys starting with this (empty: all).
    ///   - sequence: start at this sequence if the ring still holds it (else a resync says what is
    ///     gone); 0 starts with the next change.
    public func watch(prefix: [UInt8] = [], from sequence: UInt64 = 0) throws(ShmKVError) -> Watch {
        var socket = try ClientSocket.open(address: address, timeoutSeconds: 0, credentials: credentials)
        try socket.send(Request.watch(prefix: prefix, from: sequence).encoded(requestID: 1))
        let reply = try socket.readReply(answering: .watch)
        if case .message(let message) = reply.body { throw .server(reply.status, message) }
        guard case .watching(let epoch, let next) = reply.body else {
            throw .protocolViolation("unexpected reply body to WATCH")
        }
        return Watch(socket: socket, epoch: epoch, startSequence: next)
    }
}

/// A change stream from the daemon over a socket of its own. Blocking `next(timeoutMilliseconds:)` for
/// thread-based code, or `events` for `for try await`. Closing (or releasing) it ends the watch.
public final class Watch: ChangeSource, Sendable {
    private let socket: Locked<ClientSocket?>
    /// The epoch of the daemon's ring when the watch started.
    public let epoch: UInt64
    /// The sequence the first change event will carry.
    public let startSequence: UInt64

    init(socket: consuming ClientSocket, epoch: UInt64, startSequence: UInt64) {
        self.socket = Locked(socket)
        self.epoch = epoch
        self.startSequence = startSequence
    }

    /// Ends the watch and closes its connection.
    public func close() { socket.withLock { $0 = nil } }

    /// The events as an `AsyncSequence`.
    public var events: ChangeStream { ChangeStream(source: self) }

    /// The next event already received, or nil without waiting. Throws `.connection` when the server closed
    /// the watch.
    public func poll() throws(ShmKVError) -> ChangeEvent? {
        try next(timeoutMilliseconds: 0)
    }

    /// The next event, waiting up to `timeoutMilliseconds` (nil: for ever). Throws `.connection` when
    /// the daemon closes the stream (it stopped), `.server` for an error it sent.
    public func next(timeoutMilliseconds: Int?) throws(ShmKVError) -> ChangeEvent? {
        try socket.withLock { socket throws(ShmKVError) -> ChangeEvent? in
            guard socket != nil else { throw ShmKVError.connection("the watch is closed") }
            guard let frame = try socket!.readFrame(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
            guard frame.code == WatchEvent.frameCode else {
                if let status = Status(rawValue: frame.code), status.carriesMessage {
                    let message = frame.body.count >= 2 ? String(decoding: frame.body.dropFirst(2), as: UTF8.self) : ""
                    throw ShmKVError.server(status, message)
                }
                throw ShmKVError.protocolViolation("unexpected frame code \(frame.code) on a watch")
            }
            let event: WatchEvent
            do { event = try frame.body.withUnsafeBytes { b throws(WireError) in try WatchEvent(body: b) } } catch {
                throw ShmKVError.protocolViolation("\(error)")
            }
            return try Watch.changeEvent(event)
        }
    }

    static func changeEvent(_ event: WatchEvent) throws(ShmKVError) -> ChangeEvent {
        switch event {
        case .change(let type, let sequence, let txn, let key):
            guard let kind = ChangeKind(rawValue: type), kind != .padding else {
                throw .protocolViolation("unknown change type \(type)")
            }
            return .change(Change(kind: kind, sequence: sequence, transactionID: txn, key: key))
        case .resync(let reason, let from, let upTo):
            let r: Resync.Reason
            switch reason {
            case 1: r = .lapped
            case 2: r = .gap
            case 3: r = .newEpoch
            default: throw .protocolViolation("unknown resync reason \(reason)")
            }
            guard from <= upTo else { throw .protocolViolation("resync range \(from)..<\(upTo) is reversed") }
            return .resync(Resync(reason: r, missed: from..<upTo))
        }
    }
}
