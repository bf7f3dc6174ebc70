import Locks
import Wire

/// A blocking RESP2 connection to shmkvd (or any Redis-compatible server): send any command, read its
/// reply. What `shmkv raw` and the CLI's prompt use for commands the native protocol does not carry.
/// Thread-safe: calls are serialised, one command and its reply at a time.
public final class RESPClient: Sendable {
    private let socket: Locked<ClientSocket?>
    /// Where it is connected.
    public let address: ServerAddress

    /// Connects; with `credentials`, sends AUTH first (a refusal throws `.server(.authFailed, …)`).
    /// `timeoutSeconds` > 0 bounds every send and receive.
    public init(address: ServerAddress, timeoutSeconds: Int = 0, credentials: Credentials? = nil) throws(ShmKVError) {
        self.address = address
        var connected = try ClientSocket.connected(address: address, timeoutSeconds: timeoutSeconds)
        if let credentials { try connected.authenticateRESP(credentials) }
        socket = Locked(connected)
    }

    /// Sends one command (its arguments as bytes; the first is the name) and returns the reply; an error
    /// reply is returned as `.error`, not thrown. Throws only when the connection fails.
    public func command(_ arguments: [[UInt8]]) throws(ShmKVError) -> RESPReply {
        try pipeline([arguments])[0]
    }

    /// Sends `commands` in one write and reads their replies, in order (what `redis-cli --pipe` does).
    public func pipeline(_ commands: [[[UInt8]]]) throws(ShmKVError) -> [RESPReply] {
        try socket.withLock { socket throws(ShmKVError) -> [RESPReply] in
            guard socket != nil else { throw .connection("the connection is closed") }
            return try socket!.exchangeRESP(commands)
        }
    }

    /// Sends `commands` in one write without reading their replies: `receive` them later, in order.
    /// Only for replies that fit the socket's buffers while the next `send` is written (a server stops
    /// reading a client whose replies pile up): a loader keeps one batch of short replies in flight.
    public func send(_ commands: [[[UInt8]]]) throws(ShmKVError) {
        try socket.withLock { socket throws(ShmKVError) in
            guard socket != nil else { throw .connection("the connection is closed") }
            try socket!.send(ClientSocket.encodeRESP(commands))
        }
    }

    /// The next `count` replies (to commands sent by `send`).
    public func receive(_ count: Int) throws(ShmKVError) -> [RESPReply] {
        try socket.withLock { socket throws(ShmKVError) -> [RESPReply] in
            guard socket != nil else { throw .connection("the connection is closed") }
            return try socket!.receiveRESP(count)
        }
    }

    /// Closes the connection; later calls throw `.connection`.
    public func close() { socket.withLock { $0 = nil } }
}

extension ClientSocket {
    /// Sends `commands` (RESP arrays of bulk strings) in one write and reads their replies, in order.
    mutating func exchangeRESP(_ commands: [[[UInt8]]]) throws(ShmKVError) -> [RESPReply] {
        try send(ClientSocket.encodeRESP(commands))
        return try receiveRESP(commands.count)
    }

    /// `commands` as RESP arrays of bulk strings, one after another.
    static func encodeRESP(_ commands: [[[UInt8]]]) -> [UInt8] {
        var request: [UInt8] = []
        for arguments in commands {
            RESPWriter.array(arguments.count, into: &request)
            for argument in arguments { RESPWriter.bulk(argument, into: &request) }
        }
        return request
    }

    /// The next `count` RESP replies.
    mutating func receiveRESP(_ count: Int) throws(ShmKVError) -> [RESPReply] {
        var replies: [RESPReply] = []
        replies.reserveCapacity(count)
        for _ in 0..<count {
            replies.append(try next { bytes throws(WireError) in try RESPReplyDecoder.decode(bytes) })
        }
        return replies
    }

    /// AUTH over RESP (`AUTH [user] password`); a refusal throws `.server(.authFailed, …)` for a wrong
    /// password, `.server(.permissionDenied, …)` for any other error.
    mutating func authenticateRESP(_ credentials: Credentials) throws(ShmKVError) {
        var auth = [Array("AUTH".utf8)]
        if let user = credentials.user { auth.append(Array(user.utf8)) }
        auth.append(Array(credentials.password.utf8))
        if case .error(let message) = try exchangeRESP([auth])[0] {
            throw .server(message.hasPrefix("WRONGPASS") ? .authFailed : .permissionDenied, message)
        }
    }
}
