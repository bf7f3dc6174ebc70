import NotifyRing
import Wire

/// The pub/sub commands (SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE) and keyspace notifications
/// over RESP pub/sub, fed by the notification ring: every committed change,
/// whichever protocol made it, becomes a message on `__keyspace@0__:<key>` (message: the event) and on
/// `__keyevent@0__:<event>` (message: the key). Events are `set` (a key stored: SET, INCR…, APPEND,
/// MSET) and `del`; FLUSHDB/FLUSHALL publish `__keyevent@0__:flushdb` with message `0`. A connection
/// that falls a whole ring behind gets a message on `__shmkv__:resync` ("lapped FROM-TO": changes
/// FROM to TO were missed) instead of silently missing them.
extension RESPSession {
    static let keyspacePrefix = Array("__keyspace@0__:".utf8)
    static let keyeventPrefix = Array("__keyevent@0__:".utf8)
    static let resyncChannel = Array("__shmkv__:resync".utf8)

    func subscribe(_ args: RESPArguments, patterns byPattern: Bool) {
        context.resp.update(clientID) { $0.lastCommand = byPattern ? "psubscribe" : "subscribe" }
        if connection.ringSubscriber == nil {
            do { _ = try connection.startFollowingRing(from: .now) } catch {
                RESPWriter.error("ERR cannot open the notification ring: \(error)", into: &output)
                return
            }
        }
        for i in 1..<args.count {
            let name = args.bytes(i)
            if byPattern {
                if !patterns.contains(where: { $0.pattern == name }) { patterns.append(GlobPattern(name)) }
            } else if !channels.contains(name) {
                channels.append(name)
            }
            RESPWriter.push(3, resp3: resp3, into: &output)
            RESPWriter.bulk(byPattern ? "psubscribe" : "subscribe", into: &output)
            RESPWriter.bulk(name, into: &output)
            RESPWriter.integer(subscriptionCount, into: &output)
        }
    }

    func unsubscribe(_ args: RESPArguments, patterns byPattern: Bool) {
        let kind = byPattern ? "punsubscribe" : "unsubscribe"
        var names: [[UInt8]] = (1..<args.count).map { args.bytes($0) }
        if names.isEmpty { names = byPattern ? patterns.map(\.pattern) : channels }
        if names.isEmpty {
            RESPWriter.push(3, resp3: resp3, into: &output)
            RESPWriter.bulk(kind, into: &output)
            RESPWriter.null(resp3: resp3, into: &output)
            RESPWriter.integer(subscriptionCount, into: &output)
        }
        for name in names {
            if byPattern { patterns.removeAll { $0.pattern == name } } else { channels.removeAll { $0 == name } }
            RESPWriter.push(3, resp3: resp3, into: &output)
            RESPWriter.bulk(kind, into: &output)
            RESPWriter.bulk(name, into: &output)
            RESPWriter.integer(subscriptionCount, into: &output)
        }
        if subscriptionCount == 0 { connection.stopFollowingRing() }
    }

    func unsubscribeAll() {
        channels.removeAll()
        patterns.removeAll()
        connection.stopFollowingRing()
    }

    /// Turns one ring event into the messages this connection's channels and patterns ask for.
    func publishKeyspaceEvent(_ event: RingEvent) {
        switch event {
        case .change(let change):
            if change.kind == .clear {
                deliver(channel: RESPSession.keyeventPrefix + Array("flushdb".utf8), message: Array("0".utf8))
                return
            }
            guard change.event != .none else { return }
            deliverKeyEvent(change.event, key: change.key)
            // SET … EX is two events in Redis: `set`, then `expire`.
            if change.flags.contains(.deadlineSet) { deliverKeyEvent(.expire, key: change.key) }
        case .message(let message):
            deliver(channel: message.channel, message: message.payload)
        case .resync(let r):
            let text = "\(r.reason.rawValue) \(r.missed.lowerBound)-\(r.missed.upperBound == 0 ? 0 : r.missed.upperBound - 1)"
            sendMessage(channel: RESPSession.resyncChannel, message: Array(text.utf8), pattern: nil)
        }
    }

    private func deliverKeyEvent(_ event: KeyEvent, key: [UInt8]) {
        let name = Array(event.redisName.utf8)
        deliver(channel: RESPSession.keyspacePrefix + key, message: name)
        deliver(channel: RESPSession.keyeventPrefix + name, message: key)
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
