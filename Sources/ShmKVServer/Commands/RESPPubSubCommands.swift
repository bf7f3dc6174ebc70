import NotifyRing
import Wire

/// The pub/sub commands (SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE) and keyspace notifications
/// over RESP pub/sub, fed by the notification ring: every committed change,
/// whichever protocol made it, becomes a message on `__keyspace@0__:<key>` (message: the event) and on
/// `__keyevent@0__:<event>` (message: the key), with Redis's event name per command, for the classes
/// `notify-keyspace-events` selects; FLUSHDB/FLUSHALL publish `__keyevent@0__:flushdb` with message `0`
/// (class g). A connection
/// that falls a whole ring behind gets a message on `__shmkv__:resync` ("lapped FROM-TO": changes
/// FROM to TO were missed) instead of silently missing them.
extension RESPSession {
    static let keyspacePrefix = Array("__keyspace@0__:".utf8)

    static let keyeventPrefix = Array("__keyevent@0__:".utf8)

    static let resyncChannel = Array("__shmkv__:resync".utf8)

    func unsubscribeAll() {
        context.subscriptions.update(channels: channels, patterns: patterns, delta: -1)
        channels.removeAll()
        patterns.removeAll()
        connection.stopFollowingRing()
    }

    /// Turns one ring event into the messages this connection's channels and patterns ask for.
    func publishKeyspaceEvent(_ event: RingEvent) {
        if tracking != nil { trackChange(event) }
        guard subscriptionCount > 0 else { return }
        switch event {
        case .change(let change):
            let classes = context.notifications.classes
            guard !classes.isDisjoint(with: [.keyspace, .keyevent]) else { return }
            let database = change.database
            if change.kind == .clear {
                if classes.isSuperset(of: [.generic, .keyevent]) && !change.flags.contains(.swapped) {
                    // FLUSHALL (every database) is announced as database 0's.
                    let flushed = database == RingLayout.allDatabases ? 0 : database
                    deliver(channel: RESPSession.keyeventChannel(flushed, "flushdb"), message: Array("\(flushed)".utf8))
                }
                return
            }
            guard change.event != .none else { return }
            // A new key is first `new` (class n), as Redis's dbAdd sends it before the command's event.
            if change.flags.contains(.created) && classes.contains(.new) { deliverKeyEvent("new", key: change.key, database, classes) }
            if classes.contains(KeyspaceEventClasses.of(change.event)) { deliverKeyEvent(change.event.redisName, key: change.key, database, classes) }
            // SET … EX is two events in Redis: `set`, then `expire`.
            if change.flags.contains(.deadlineSet) && classes.contains(.generic) { deliverKeyEvent("expire", key: change.key, database, classes) }
        case .message(let message):
            deliver(channel: message.channel, message: message.payload)
        case .resync(let r):
            let text = "\(r.reason.rawValue) \(r.missed.lowerBound)-\(r.missed.upperBound == 0 ? 0 : r.missed.upperBound - 1)"
            sendMessage(channel: RESPSession.resyncChannel, message: Array(text.utf8), pattern: nil)
        }
    }

    private func deliverKeyEvent(_ event: String, key: [UInt8], _ database: UInt8, _ classes: KeyspaceEventClasses) {
        let name = Array(event.utf8)
        if classes.contains(.keyspace) {
            deliver(channel: database == 0 ? RESPSession.keyspacePrefix + key : Array("__keyspace@\(database)__:".utf8) + key, message: name)
        }
        if classes.contains(.keyevent) { deliver(channel: RESPSession.keyeventChannel(database, event), message: key) }
    }

    /// `__keyevent@<db>__:<event>` (database 0's prefix made once).
    static func keyeventChannel(_ database: UInt8, _ event: String) -> [UInt8] {
        (database == 0 ? keyeventPrefix : Array("__keyevent@\(database)__:".utf8)) + Array(event.utf8)
    }

    private func deliver(channel: [UInt8], message: [UInt8]) {
        if channels.contains(channel) { sendMessage(channel: channel, message: message, pattern: nil) }
        for pattern in patterns where pattern.matches(channel) {
            sendMessage(channel: channel, message: message, pattern: pattern.pattern)
        }
    }

    private func sendMessage(channel: [UInt8], message: [UInt8], pattern: [UInt8]?) {
        if let pattern {
            RESPWriter.push(4, resp3: resp3, into: &output)
            RESPWriter.bulk("pmessage", into: &output)
            RESPWriter.bulk(pattern, into: &output)
        } else {
            RESPWriter.push(3, resp3: resp3, into: &output)
            RESPWriter.bulk("message", into: &output)
        }
        RESPWriter.bulk(channel, into: &output)
        RESPWriter.bulk(message, into: &output)
    }
}

/// The pub/sub commands a connection runs: SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBSUB
/// (PUBLISH, a write, is below).
enum PubSubCommands {
    static func subscribe(_ session: RESPSession, _ args: RESPArguments, patterns byPattern: Bool) {
        session.context.resp.update(session.clientID) { $0.lastCommand = byPattern ? "psubscribe" : "subscribe" }
        if session.connection.ringSubscriber == nil {
            do { _ = try session.connection.startFollowingRing(from: .now) } catch {
                RESPWriter.error("ERR cannot open the notification ring: \(error)", into: &session.output)
                return
            }
        }
        for i in 1..<args.count {
            let name = args.bytes(i)
            if byPattern {
                if !session.patterns.contains(where: { $0.pattern == name }) {
                    session.patterns.append(GlobPattern(name))
                    session.context.subscriptions.update(patterns: [GlobPattern(name)], delta: 1)
                }
            } else if !session.channels.contains(name) {
                session.channels.append(name)
                session.context.subscriptions.update(channels: [name], delta: 1)
            }
            RESPWriter.push(3, resp3: session.resp3, into: &session.output)
            RESPWriter.bulk(byPattern ? "psubscribe" : "subscribe", into: &session.output)
            RESPWriter.bulk(name, into: &session.output)
            RESPWriter.integer(session.subscriptionCount, into: &session.output)
        }
    }

    /// PUBSUB CHANNELS [pattern] | NUMSUB [channel …] | NUMPAT, over the daemon's connections.
    static func pubsub(_ session: RESPSession, _ args: RESPArguments) {
        let subscriptions = session.context.subscriptions
        let n = args.count
        if args.is(1, "CHANNELS") || args.is(1, "NUMPAT") {
            // Redis 7.0's two wordings: CHANNELS checks its own arity, NUMPAT's is in the table.
            if args.is(1, "CHANNELS"), n > 3 {
                return RESPWriter.error("ERR unknown subcommand or wrong number of arguments for '\(args.string(1))'. Try PUBSUB HELP.", into: &session.output)
            }
            if args.is(1, "NUMPAT"), n != 2 {
                return RESPWriter.error(RESPError.wrongArity("pubsub|numpat").message, into: &session.output)
            }
            if args.is(1, "NUMPAT") { return RESPWriter.integer(subscriptions.patternCount, into: &session.output) }
            let channels = subscriptions.activeChannels(matching: n == 3 ? GlobPattern(args.bytes(2)) : nil)
            RESPWriter.array(channels.count, into: &session.output)
            for channel in channels { RESPWriter.bulk(channel, into: &session.output) }
        } else if args.is(1, "NUMSUB") {
            // A flat array of channel, count pairs (Redis 7 answers an array in RESP3 too).
            RESPWriter.array((n - 2) * 2, into: &session.output)
            for i in 2..<max(2, n) {
                RESPWriter.bulk(args[i], into: &session.output)
                RESPWriter.integer(subscriptions.subscribers(of: args.bytes(i)), into: &session.output)
            }
        } else {
            RESPWriter.error("ERR unknown subcommand '\(args.string(1))'. Try PUBSUB HELP.", into: &session.output)
        }
    }

    static func unsubscribe(_ session: RESPSession, _ args: RESPArguments, patterns byPattern: Bool) {
        let kind = byPattern ? "punsubscribe" : "unsubscribe"
        var names: [[UInt8]] = (1..<args.count).map { args.bytes($0) }
        if names.isEmpty { names = byPattern ? session.patterns.map(\.pattern) : session.channels }
        if names.isEmpty {
            RESPWriter.push(3, resp3: session.resp3, into: &session.output)
            RESPWriter.bulk(kind, into: &session.output)
            RESPWriter.null(resp3: session.resp3, into: &session.output)
            RESPWriter.integer(session.subscriptionCount, into: &session.output)
        }
        for name in names {
            if byPattern, let i = session.patterns.firstIndex(where: { $0.pattern == name }) {
                session.context.subscriptions.update(patterns: [session.patterns.remove(at: i)], delta: -1)
            } else if !byPattern, let i = session.channels.firstIndex(of: name) {
                session.context.subscriptions.update(channels: [session.channels.remove(at: i)], delta: -1)
            }
            RESPWriter.push(3, resp3: session.resp3, into: &session.output)
            RESPWriter.bulk(kind, into: &session.output)
            RESPWriter.bulk(name, into: &session.output)
            RESPWriter.integer(session.subscriptionCount, into: &session.output)
        }
        if session.subscriptionCount == 0 && session.tracking == nil { session.connection.stopFollowingRing() }
    }
}

/// PUBLISH, the pub/sub command that writes.
extension PubSubCommands {
    /// PUBLISH channel message: queued behind the connection's writes, so that its ring record follows
    /// theirs; answers the receivers the daemon counts (its subscribed connections, not local readers).
    static func publish(_ c: WriteCall) -> WritePlan {
        let size = c.args[1].count + c.args[2].count
        let limit = c.context.configuration.maxMessageSize
        guard size <= limit else {
            return .error("ERR message of \(size) bytes (channel and payload) exceeds the maximum of \(limit) bytes (ring.maxMessageSize)")
        }
        return .write(.publish(receivers: c.context.subscriptions.receivers(of: c.args[1])), .keyValue(1, 2))
    }
}
