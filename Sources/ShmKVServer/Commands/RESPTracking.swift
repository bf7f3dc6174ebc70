import NotifyRing
import StoreLayout
import Wire

/// An invalidation on its way to the connection that receives it (the tracking client itself, or the
/// client it REDIRECTs to, possibly on another reactor).
struct Invalidation: Sendable {
    /// The receiving client's id.
    let target: Int
    /// The keys, or nil for "everything" (a flush).
    let keys: [[UInt8]]?
    /// A null is written as the tracking client's protocol has it (Redis's `shared.null[c->resp]`).
    let nullInRESP3: Bool
    /// Sent through REDIRECT: a RESP2 receiver in pub/sub mode gets it as a `__redis__:invalidate` message.
    let redirected: Bool
}

/// One connection's CLIENT TRACKING state. Tracking is driven from the ring like pub/sub: the
/// connection follows the ring and checks each change against the keys it read (default mode) or its
/// prefixes (BCAST), so no table is shared between threads.
struct ClientTracking {
    var broadcast = false, optIn = false, optOut = false, noLoop = false
    /// REDIRECT's client id (0: none).
    var redirect = 0
    /// BCAST prefixes, sorted ("" when BCAST names none).
    var prefixes: [[UInt8]] = []
    /// CLIENT CACHING YES/NO applies to the next command.
    var caching = false
    var brokenRedirect = false
    /// Default mode: keys read and not yet invalidated, each with the first ring sequence its read's
    /// snapshot did not contain (a change numbered below it was already in what the client read).
    var keys: [[UInt8]: UInt64] = [:]
    /// The sequence of the last change consumed from the ring per key, for changes the snapshot of a
    /// later read may not contain (pruned of what every snapshot now holds).
    var recent: [[UInt8]: UInt64] = [:]
    /// BCAST: keys changed in this pump, per prefix.
    var pending: [[UInt8]: Set<[UInt8]>] = [:]

    static let trackingChannel = Array("__redis__:invalidate".utf8)
    /// Keys one connection may have remembered (Redis's `tracking-table-max-keys` default, per
    /// connection here): past it the oldest-looking entry is invalidated and forgotten.
    static let maxKeys = 1_000_000
    /// BCAST prefixes one connection may have (Redis has no limit; each costs memory and a check).
    static let maxPrefixes = 10_000
    /// Entries of `recent` before it is pruned.
    static let maxRecent = 4096
    /// When `recent` could not be pruned (a burst of changes since the snapshot): the last sequence
    /// consumed then; a key read before the mark passes it is invalidated at once (conservative).
    var recentOverflow: UInt64?

    /// The BCAST prefix `key` falls under: prefixes do not overlap, so it can only be the greatest one
    /// not after the key (binary search over the sorted prefixes).
    func prefix(of key: [UInt8]) -> [UInt8]? {
        var low = 0, high = prefixes.count
        while low < high {
            let mid = (low + high) / 2
            if key.lexicographicallyPrecedes(prefixes[mid]) { high = mid } else { low = mid + 1 }
        }
        guard low > 0, key.starts(with: prefixes[low - 1]) else { return nil }
        return prefixes[low - 1]
    }

    /// Default mode, after a read: remembers `keys` as read at ring mark `mark`; the keys to invalidate
    /// at once — one changed after the snapshot began but already consumed from the ring (the client may
    /// hold a value older than that change), or one evicted past `maxKeys`.
    mutating func remember(_ keys: some Sequence<[UInt8]>, mark: UInt64) -> [[UInt8]] {
        var stale: [[UInt8]] = []
        for key in keys {
            if recentOverflow.map({ $0 >= mark }) == true || recent[key].map({ $0 >= mark }) == true {
                self.keys[key] = nil
                stale.append(key)
            } else if self.keys[key].map({ mark < $0 }) ?? true {
                if self.keys[key] == nil && self.keys.count >= ClientTracking.maxKeys, let evicted = self.keys.first?.key {
                    self.keys[evicted] = nil
                    stale.append(evicted)
                }
                self.keys[key] = mark
            }
        }
        return stale
    }

    /// What one change from the ring invalidates for this connection.
    enum Invalidated { case nothing, everything, key([UInt8]) }

    /// Takes one change into account (`mark`: the reactor's ring mark; `own`: the change is this
    /// client's and NOLOOP is on): forgets what it invalidates, or (BCAST) collects its key under its
    /// prefix for `takeBroadcast`.
    mutating func apply(_ change: RingChange, mark: UInt64, own: Bool) -> Invalidated {
        if change.kind == .clear {
            keys.removeAll()
            recent.removeAll()
            return .everything
        }
        if broadcast {
            if !own, let prefix = prefix(of: change.key) { pending[prefix, default: []].insert(change.key) }
            return .nothing
        }
        if change.sequence >= mark { recent[change.key] = change.sequence }
        if recent.count > ClientTracking.maxRecent {
            // What every snapshot now holds can go; a burst that cannot is replaced by one mark, so the
            // work stays linear in the changes.
            recent = recent.filter { $0.value >= mark }
            if recent.count > ClientTracking.maxRecent / 2 {
                recentOverflow = max(recentOverflow ?? 0, change.sequence)
                recent.removeAll(keepingCapacity: true)
            }
        }
        guard let from = keys[change.key], change.sequence >= from else { return .nothing }
        keys[change.key] = nil
        return own ? .nothing : .key(change.key)
    }

    /// BCAST: the keys changed since the last call, one list per prefix in prefix order, each sorted (as
    /// Redis sends them once per event loop turn).
    mutating func takeBroadcast() -> [[[UInt8]]] {
        defer { pending = [:] }
        return pending.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { $0.value.sorted { $0.lexicographicallyPrecedes($1) } }
    }
}

extension RESPSession {
    func stopTracking() {
        guard tracking != nil else { return }
        tracking = nil
        if subscriptionCount == 0 { connection.stopFollowingRing() }
    }

    /// After a read-only command ran: remember its keys (default mode, as OPTIN/OPTOUT and CACHING allow).
    func rememberReadKeys(_ command: Command, _ args: RESPArguments) {
        guard let t = tracking, !t.broadcast, !(t.optIn && !t.caching), !(t.optOut && t.caching) else { return }
        let keys = command.keys.indices(in: args).lazy.filter { StoreLayout.check(key: args[$0]) == nil }.map { args.bytes($0) }
        let stale = tracking?.remember(keys, mark: connection.reactor.ringMark) ?? []
        for key in stale { sendInvalidation([key]) }
    }

    /// After every command but CLIENT (and not inside MULTI): CLIENT CACHING's choice is used up.
    func endCommandForTracking(_ command: Command) {
        guard tracking?.caching == true, command.name != "client", transaction == nil else { return }
        tracking?.caching = false
    }

    /// One ring event for a tracking connection.
    func trackChange(_ event: RingEvent) {
        guard case .change(let change) = event, let noLoop = tracking?.noLoop else { return }
        let own = noLoop && change.origin == UInt32(truncatingIfNeeded: clientID)
        switch tracking?.apply(change, mark: connection.reactor.ringMark, own: own) {
        case .everything: sendInvalidation(nil)
        case .key(let key): sendInvalidation([key])
        case .nothing, nil: break
        }
    }

    /// After a pump: BCAST's keys, one message per prefix.
    func flushBroadcastInvalidations() {
        guard tracking?.broadcast == true, tracking?.pending.isEmpty == false else { return }
        for keys in tracking?.takeBroadcast() ?? [] { sendInvalidation(keys) }
    }

    /// Sends an invalidation as Redis's `sendTrackingMessage`: to the REDIRECT client (a RESP3 push, or a
    /// `__redis__:invalidate` message if it is a RESP2 subscriber), else as a RESP3 push to this one; a
    /// RESP2 client without REDIRECT gets nothing. A REDIRECT client that has gone: RESP3
    /// `tracking-redir-broken`.
    func sendInvalidation(_ keys: [[UInt8]]?) {
        guard let t = tracking else { return }
        let invalidation = Invalidation(target: t.redirect == 0 ? clientID : t.redirect, keys: keys, nullInRESP3: resp3,
                                        redirected: t.redirect != 0)
        if t.redirect == 0 { return receive(invalidation) }
        guard let info = context.resp.info(t.redirect) else {
            tracking?.brokenRedirect = true
            guard resp3 else { return }
            RESPWriter.push(2, resp3: true, into: &output)
            RESPWriter.bulk("tracking-redir-broken", into: &output)
            RESPWriter.integer(t.redirect, into: &output)
            return
        }
        if info.reactor == connection.reactor.index {
            if let target = connection.reactor.respSessions[t.redirect] {
                target.receive(invalidation)
                if target !== self { target.connection.flush() }
            }
        } else if let reactor = context.batcher.reactors.withLock({ $0.first { $0.index == info.reactor } }) {
            reactor.post(invalidation)
        }
    }

    /// Writes an invalidation addressed to this connection, if its protocol can carry it.
    func receive(_ invalidation: Invalidation) {
        if resp3 {
            RESPWriter.push(2, resp3: true, into: &output)
            RESPWriter.bulk("invalidate", into: &output)
        } else if subscriptionCount > 0 && invalidation.redirected {
            RESPWriter.array(3, into: &output)
            RESPWriter.bulk("message", into: &output)
            RESPWriter.bulk(ClientTracking.trackingChannel, into: &output)
        } else {
            return
        }
        if let keys = invalidation.keys {
            RESPWriter.array(keys.count, into: &output)
            for key in keys { RESPWriter.bulk(key, into: &output) }
        } else {
            RESPWriter.null(resp3: invalidation.nullInRESP3, into: &output)
        }
    }
}

/// CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO.
enum TrackingCommands {
    /// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p …] [BCAST] [OPTIN] [OPTOUT] [NOLOOP], with Redis's
    /// checks in Redis's order.
    static func clientTracking(_ session: RESPSession, _ args: RESPArguments) {
        var options = ClientTracking()
        var newPrefixes: [[UInt8]] = []
        var redirect: Int64 = 0
        var i = 3
        while i < args.count {
            let more = i + 1 < args.count
            if args.is(i, "REDIRECT") && more {
                i += 1
                guard redirect == 0 else { return RESPWriter.error("ERR A client can only redirect to a single other client", into: &session.output) }
                guard let id = args.integer(i) else { return RESPWriter.error("ERR value is not an integer or out of range", into: &session.output) }
                guard session.context.resp.info(Int(id)) != nil else {
                    return RESPWriter.error("ERR The client ID you want redirect to does not exist", into: &session.output)
                }
                redirect = id
            } else if args.is(i, "BCAST") {
                options.broadcast = true
            } else if args.is(i, "OPTIN") {
                options.optIn = true
            } else if args.is(i, "OPTOUT") {
                options.optOut = true
            } else if args.is(i, "NOLOOP") {
                options.noLoop = true
            } else if args.is(i, "PREFIX") && more {
                i += 1
                newPrefixes.append(args.bytes(i))
            } else {
                return RESPWriter.error("ERR syntax error", into: &session.output)
            }
            i += 1
        }
        if args.is(2, "ON") {
            if let problem = trackingProblem(session, options, newPrefixes) { return RESPWriter.error(problem, into: &session.output) }
            options.redirect = Int(redirect)
            var prefixes = session.tracking?.broadcast == true ? session.tracking?.prefixes ?? [] : []
            if options.broadcast { prefixes += newPrefixes.isEmpty ? [[]] : newPrefixes }
            options.prefixes = Array(Set(prefixes)).sorted { $0.lexicographicallyPrecedes($1) }
            // Keys read under the old options stay remembered, as Redis's table keeps them.
            options.keys = options.broadcast ? [:] : session.tracking?.keys ?? [:]
            if session.tracking == nil && session.connection.ringSubscriber == nil {
                do { _ = try session.connection.startFollowingRing(from: .now) } catch {
                    return RESPWriter.error("ERR cannot open the notification ring: \(error)", into: &session.output)
                }
            }
            session.tracking = options
        } else if args.is(2, "OFF") {
            session.stopTracking()
        } else {
            return RESPWriter.error("ERR syntax error", into: &session.output)
        }
        RESPWriter.ok(into: &session.output)
    }

    /// Redis's checks before tracking is switched on (or its options changed).
    private static func trackingProblem(_ session: RESPSession, _ options: ClientTracking, _ newPrefixes: [[UInt8]]) -> String? {
        if !options.broadcast && !newPrefixes.isEmpty { return "ERR PREFIX option requires BCAST mode to be enabled" }
        if let current = session.tracking, current.broadcast != options.broadcast {
            return "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
        }
        if options.broadcast && (options.optIn || options.optOut) { return "ERR OPTIN and OPTOUT are not compatible with BCAST" }
        if options.optIn && options.optOut { return "ERR You can't specify both OPTIN mode and OPTOUT mode" }
        if let current = session.tracking, (options.optIn && current.optOut) || (options.optOut && current.optIn) {
            return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."
        }
        guard options.broadcast else { return nil }
        let existing = session.tracking?.prefixes ?? []
        if existing.count + newPrefixes.count > ClientTracking.maxPrefixes {
            return "ERR too many tracking prefixes: at most \(ClientTracking.maxPrefixes) per connection"
        }
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
        func overlap(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.starts(with: b) || b.starts(with: a) }
        // Redis's pairwise scan for small lists (its messages name the first pair in its order); for
        // long ones sorting finds an overlap in n log n (a prefix of another sorts next to one it prefixes).
        if existing.count * newPrefixes.count + newPrefixes.count * newPrefixes.count <= 1 << 20 {
            for (n, prefix) in newPrefixes.enumerated() {
                for old in existing where overlap(old, prefix) {
                    return "ERR Prefix '\(text(prefix))' overlaps with an existing prefix '\(text(old))'. Prefixes for a single client must not overlap."
                }
                for other in newPrefixes[(n + 1)...] where overlap(other, prefix) {
                    return "ERR Prefix '\(text(prefix))' overlaps with another provided prefix '\(text(other))'. Prefixes for a single client must not overlap."
                }
            }
            return nil
        }
        let all = (existing + newPrefixes).sorted { $0.lexicographicallyPrecedes($1) }
        for (a, b) in zip(all, all.dropFirst()) where overlap(a, b) {
            return "ERR Prefix '\(text(b))' overlaps with another provided prefix '\(text(a))'. Prefixes for a single client must not overlap."
        }
        return nil
    }

    /// CLIENT CACHING YES|NO.
    static func clientCaching(_ session: RESPSession, _ args: RESPArguments) {
        guard let current = session.tracking, current.optIn || current.optOut else {
            return RESPWriter.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled", into: &session.output)
        }
        if args.is(2, "YES") {
            guard current.optIn else { return RESPWriter.error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.", into: &session.output) }
        } else if args.is(2, "NO") {
            guard current.optOut else { return RESPWriter.error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.", into: &session.output) }
        } else {
            return RESPWriter.error("ERR syntax error", into: &session.output)
        }
        session.tracking?.caching = true
        RESPWriter.ok(into: &session.output)
    }

    static func clientGetRedirect(_ session: RESPSession, _ args: RESPArguments) {
        RESPWriter.integer(session.tracking?.redirect ?? -1, into: &session.output)
    }

    static func clientTrackingInfo(_ session: RESPSession, _ args: RESPArguments) {
        var flags = [session.tracking == nil ? "off" : "on"]
        if let t = session.tracking {
            if t.broadcast { flags.append("bcast") }
            if t.optIn { flags.append("optin"); if t.caching { flags.append("caching-yes") } }
            if t.optOut { flags.append("optout"); if t.caching { flags.append("caching-no") } }
            if t.noLoop { flags.append("noloop") }
            if t.brokenRedirect { flags.append("broken_redirect") }
        }
        RESPWriter.map(3, resp3: session.resp3, into: &session.output)
        RESPWriter.bulk("flags", into: &session.output)
        RESPWriter.set(flags.count, resp3: session.resp3, into: &session.output)
        for flag in flags { RESPWriter.bulk(flag, into: &session.output) }
        RESPWriter.bulk("redirect", into: &session.output)
        RESPWriter.integer(session.tracking?.redirect ?? -1, into: &session.output)
        RESPWriter.bulk("prefixes", into: &session.output)
        let prefixes = session.tracking?.prefixes ?? []
        RESPWriter.array(prefixes.count, into: &session.output)
        for prefix in prefixes { RESPWriter.bulk(prefix, into: &session.output) }
    }
}
