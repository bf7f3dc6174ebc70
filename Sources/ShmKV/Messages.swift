import NotifyRing
import Wire

/// A message published to a channel (PUBLISH, `Client.publish`), as a subscriber receives it.
public struct Message: Sendable, Hashable {
    /// Its place in the ring's numbering (shared with changes: a message published after a write on
    /// the same connection has a higher sequence than the write's change).
    public let sequence: UInt64
    /// The channel it was published to.
    public let channel: [UInt8]
    /// The message.
    public let payload: [UInt8]
    /// The pattern it was delivered for, or nil when the channel itself was subscribed.
    public let pattern: [UInt8]?

    /// A message as a subscriber decoded it.
    public init(sequence: UInt64, channel: [UInt8], payload: [UInt8], pattern: [UInt8]? = nil) {
        self.sequence = sequence
        self.channel = channel
        self.payload = payload
        self.pattern = pattern
    }
}

/// One event of a message stream: a message, or a resync naming the ring sequences missed (messages
/// are not stored: what was missed is gone).
public enum MessageEvent: Sendable, Hashable {
    /// A message of a subscribed channel or pattern.
    case message(Message)
    /// Records were missed (lapped, gap, new daemon): some messages may not have arrived.
    case resync(Resync)
}

/// Message events as an `AsyncSequence` (`LocalStore.messages`, `Client.subscribe(…).messages`).
public typealias MessageStream = EventStream<MessageEvent>

/// Which channels a subscriber wants: names and Redis glob patterns. A message matching a name and
/// patterns is delivered once for the name and once per pattern, as Redis does.
struct ChannelFilter: Sendable {
    let channels: Set<[UInt8]>
    let patterns: [GlobPattern]

    func deliveries(_ message: RingMessage) -> [Message] {
        var out: [Message] = []
        if channels.contains(message.channel) {
            out.append(Message(sequence: message.sequence, channel: message.channel, payload: message.payload))
        }
        for glob in patterns where glob.matches(message.channel) {
            out.append(Message(sequence: message.sequence, channel: message.channel, payload: message.payload, pattern: glob.pattern))
        }
        return out
    }
}

/// Follows the daemon's ring directly (no socket) for messages of some channels and patterns; for
/// code on its own threads. Use from one thread at a time. Subscribing while no daemon runs waits for
/// the next one's ring.
public final class MessageSubscriber {
    private let follower: RingFollower
    private let filter: ChannelFilter
    /// Deliveries of one record beyond the first (a channel matched by several patterns).
    private var pending: [MessageEvent] = []

    init(ringPath: String, channels: [[UInt8]], patterns: [[UInt8]]) throws(ShmKVError) {
        follower = try RingFollower(ringPath: ringPath, start: .now)
        filter = ChannelFilter(channels: Set(channels), patterns: patterns.map(GlobPattern.init))
    }

    /// Whether no ring exists yet at the store's recorded path (no daemon runs on it).
    public var isWaitingForRing: Bool { follower.isWaitingForRing }
    /// The ring followed (or waited for).
    public var ringPath: String { follower.ringPath }

    /// The next message already in the ring, or nil at once.
    public func poll() -> MessageEvent? {
        if !pending.isEmpty { return pending.removeFirst() }
        return follower.poll(accept)
    }

    /// Waits (futex, after a short spin) until a message arrives or the timeout passes.
    public func next(timeoutMilliseconds: Int?) -> MessageEvent? {
        if !pending.isEmpty { return pending.removeFirst() }
        return follower.next(timeoutMilliseconds: timeoutMilliseconds, accept)
    }

    private func accept(_ event: RingEvent) -> MessageEvent? {
        switch event {
        case .change: return nil
        case .resync(let resync): return .resync(resync)
        case .message(let message):
            var deliveries = filter.deliveries(message).map(MessageEvent.message)
            guard !deliveries.isEmpty else { return nil }
            let first = deliveries.removeFirst()
            pending.append(contentsOf: deliveries)
            return first
        }
    }
}

extension LocalStore {
    /// A blocking subscriber to messages published on `channels` and channel `patterns` (Redis's glob
    /// syntax), read from shared memory. It is not counted in PUBLISH's answer (the daemon does not
    /// know local readers).
    public func subscribeMessages(channels: [[UInt8]], patterns: [[UInt8]] = []) throws(ShmKVError) -> MessageSubscriber {
        try MessageSubscriber(ringPath: try ringPath(), channels: channels, patterns: patterns)
    }

    /// Messages on `channels` and `patterns` as an `AsyncSequence`, from now on, through shared memory.
    public func messages(channels: [[UInt8]], patterns: [[UInt8]] = []) throws(ShmKVError) -> MessageStream {
        let subscriber = try subscribeMessages(channels: channels, patterns: patterns)
        return MessageStream(poll: { subscriber.poll() }, next: { subscriber.next(timeoutMilliseconds: $0) })
    }
}

extension Client {
    /// Posts `payload` to `channel`, in order with this client's writes; returns the receivers the
    /// daemon counts (its subscribed connections; local ring readers get it too but are not counted).
    @discardableResult
    public func publish(_ channel: [UInt8], _ payload: [UInt8]) throws(ShmKVError) -> Int { try execute(.publish(channel, payload)) }

    /// Subscribes over a connection of its own to messages on `channels` and `patterns` (counted in
    /// PUBLISH's answer). Events come from now on.
    public func subscribe(channels: [[UInt8]], patterns: [[UInt8]] = []) throws(ShmKVError) -> MessageSubscription {
        let (connection, epoch, _) = try EventConnection.open(self, .subscribe(channels: channels, patterns: patterns))
        return MessageSubscription(connection: connection, epoch: epoch)
    }
}

/// Messages from the daemon over a socket of its own (`Client.subscribe`). Closing (or releasing) it
/// ends the subscription.
public final class MessageSubscription: Sendable {
    private let connection: EventConnection
    /// The epoch of the daemon's ring when the subscription started.
    public let epoch: UInt64

    init(connection: EventConnection, epoch: UInt64) {
        self.connection = connection
        self.epoch = epoch
    }

    /// Ends the subscription and closes its connection.
    public func close() { connection.close() }

    /// The messages as an `AsyncSequence`.
    public var messages: MessageStream {
        MessageStream(poll: { try self.next(timeoutMilliseconds: 0) }, next: { try self.next(timeoutMilliseconds: $0) })
    }

    /// The next message, waiting up to `timeoutMilliseconds` (nil: for ever). Throws `.connection`
    /// when the daemon closes the stream.
    public func next(timeoutMilliseconds: Int?) throws(ShmKVError) -> MessageEvent? {
        guard let event = try connection.next(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        switch event {
        case .message(let sequence, let channel, let payload, let pattern):
            return .message(Message(sequence: sequence, channel: channel, payload: payload, pattern: pattern.isEmpty ? nil : pattern))
        case .resync(let reason, let from, let upTo):
            return .resync(try EventConnection.resync(reason: reason, from: from, upTo: upTo))
        case .change:
            throw .protocolViolation("a change event on a subscription")
        }
    }
}
