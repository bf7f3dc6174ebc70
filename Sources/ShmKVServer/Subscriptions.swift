import Locks
import Wire

/// Which channels and patterns the daemon's connections listen to, across reactors: what PUBLISH
/// answers (the receivers it can count) and PUBSUB CHANNELS / NUMSUB / NUMPAT report. Local ring
/// readers (`LocalStore.messages`) are not known to the daemon and not counted.
final class Subscriptions: Sendable {
    private struct State {
        /// Subscribed connections per channel.
        var channels: [[UInt8]: Int] = [:]
        /// Subscribed connections per pattern.
        var patterns: [[UInt8]: (GlobPattern, Int)] = [:]
    }
    private let state = Locked(State())

    /// One connection's subscriptions added (`delta` 1) or removed (-1).
    func update(channels: [[UInt8]] = [], patterns: [GlobPattern] = [], delta: Int) {
        state.withLock { s in
            for channel in channels {
                let n = (s.channels[channel] ?? 0) + delta
                s.channels[channel] = n > 0 ? n : nil
            }
            for pattern in patterns {
                let n = (s.patterns[pattern.pattern]?.1 ?? 0) + delta
                s.patterns[pattern.pattern] = n > 0 ? (pattern, n) : nil
            }
        }
    }

    /// How many deliveries a message on `channel` makes, as Redis counts PUBLISH's receivers: one per
    /// connection subscribed to the channel, plus one per connection and pattern that matches it.
    /// Without any subscription, nothing is copied.
    func receivers(of channel: UnsafeRawBufferPointer) -> Int {
        state.withLock { s in
            if s.channels.isEmpty && s.patterns.isEmpty { return 0 }
            let channel = Array(channel)
            var n = s.channels[channel] ?? 0
            for (pattern, count) in s.patterns.values where pattern.matches(channel) { n += count }
            return n
        }
    }

    /// Channels with at least one subscriber, matching `pattern` if given (PUBSUB CHANNELS).
    func activeChannels(matching pattern: GlobPattern?) -> [[UInt8]] {
        state.withLock { s in s.channels.keys.filter { pattern?.matches($0) ?? true } }
    }

    /// Subscribers of exactly `channel` (PUBSUB NUMSUB).
    func subscribers(of channel: [UInt8]) -> Int { state.withLock { $0.channels[channel] ?? 0 } }

    /// Distinct patterns subscribed to (PUBSUB NUMPAT).
    var patternCount: Int { state.withLock { $0.patterns.count } }
}
