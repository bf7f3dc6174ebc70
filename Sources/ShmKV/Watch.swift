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
        let (connection, epoch, next) = try EventConnection.open(self, .watch(prefix: prefix, from: sequence))
        return Watch(connection: connection, epoch: epoch, startSequence: next)
    }
}

/// A connection of its own that carries EVENT frames after a WATCH or a SUBSCRIBE.
final class EventConnection: Sendable {
    private let socket: Locked<ClientSocket?>

    private init(socket: consuming ClientSocket) { self.socket = Locked(socket) }

    /// Connects as `client` does, sends `request` and reads its OK (the ring's epoch and next sequence).
    static func open(_ client: Client, _ request: Request) throws(ShmKVError) -> (EventConnection, UInt64, UInt64) {
        var socket = try ClientSocket.open(address: client.address, timeoutSeconds: 0, credentials: client.credentials)
        try socket.send(request.encoded(requestID: 1))
        let reply = try socket.readReply(answering: request.opcode)
        if case .message(let message) = reply.body { throw .server(reply.status, message) }
        guard case .watching(let epoch, let next) = reply.body else {
            throw .protocolViolation("unexpected reply body to \(request.opcode)")
        }
        return (EventConnection(socket: socket), epoch, next)
    }

    /// Closes the connection; later reads throw `.connection`.
    func close() { socket.withLock { $0 = nil } }

    /// The next event, waiting up to `timeoutMilliseconds` (nil: for ever). Throws `.connection` when
    /// the daemon closes the stream (it stopped), `.server` for an error it sent.
    func next(timeoutMilliseconds: Int?) throws(ShmKVError) -> WatchEvent? {
        try socket.withLock { socket throws(ShmKVError) -> WatchEvent? in
            guard socket != nil else { throw ShmKVError.connection("the stream is closed") }
            guard let frame = try socket!.readFrame(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
            guard frame.code == WatchEvent.frameCode else {
                if let status = Status(rawValue: frame.code), status.carriesMessage {
                    let message = frame.body.count >= 2 ? String(decoding: frame.body.dropFirst(2), as: UTF8.self) : ""
                    throw ShmKVError.server(status, message)
                }
                throw ShmKVError.protocolViolation("unexpected frame code \(frame.code) on an event stream")
            }
            do { return try frame.body.withUnsafeBytes { b throws(WireError) in try WatchEvent(body: b) } } catch {
                throw ShmKVError.protocolViolation("\(error)")
            }
        }
    }

    static func resync(reason: UInt8, from: UInt64, upTo: UInt64) throws(ShmKVError) -> Resync {
        let r: Resync.Reason
        switch reason {
        case 1: r = .lapped
        case 2: r = .gap
        case 3: r = .newEpoch
        default: throw .protocolViolation("unknown resync reason \(reason)")
        }
        guard from <= upTo else { throw .protocolViolation("resync range \(from)..<\(upTo) is reversed") }
        return Resync(reason: r, missed: from..<upTo)
    }
}

/// A change stream from the daemon over a socket of its own. Blocking `next(timeoutMilliseconds:)` for
/// thread-based code, or `events` for `for try await`. Closing (or releasing) it ends the watch.
public final class Watch: ChangeSource, Sendable {
    private let connection: EventConnection
    /// The epoch of the daemon's ring when the watch started.
    public let epoch: UInt64
    /// The sequence the first change event will carry.
    public let startSequence: UInt64

    init(connection: EventConnection, epoch: UInt64, startSequence: UInt64) {
        self.connection = connection
        self.epoch = epoch
        self.startSequence = startSequence
    }

    /// Ends the watch and closes its connection.
    public func close() { connection.close() }

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
        guard let event = try connection.next(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        return try Watch.changeEvent(event)
    }

    static func changeEvent(_ event: WatchEvent) throws(ShmKVError) -> ChangeEvent {
        switch event {
        case .change(let type, let sequence, let txn, let key):
            guard let kind = ChangeKind(rawValue: type), kind != .padding, kind != .message else {
                throw .protocolViolation("unknown change type \(type)")
            }
            return .change(Change(kind: kind, sequence: sequence, transactionID: txn, key: key))
        case .message:
            throw .protocolViolation("a message event on a watch")
        case .resync(let reason, let from, let upTo):
            return .resync(try EventConnection.resync(reason: reason, from: from, upTo: upTo))
        }
    }
}
