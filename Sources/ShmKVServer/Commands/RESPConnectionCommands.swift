import Posix
import Wire

/// The connection commands: PING, ECHO, HELLO, CLIENT, SELECT, AUTH, QUIT, RESET.
extension RESPSession {
    /// The Redis version HELLO and INFO report: the feature level clients may expect. 7.4 because
    /// redis-py 8 offers its client-side cache (CLIENT TRACKING) only to servers of 7.4 or later.
    static let redisVersion = "7.4.0"
    /// The same as a number, 0x00MMmmpp (Lua's `redis.REDIS_VERSION_NUM`).
    static let redisVersionNumber = redisVersion.split(separator: ".").reduce(0) { $0 << 8 | (Int($1) ?? 0) }
}

/// The connection commands: PING, ECHO, SELECT, AUTH, QUIT, RESET, HELLO, CLIENT. Each runs on the
/// reactor with the session that asked (CLIENT TRACKING and its relatives are in `RESPTracking`).
enum ConnectionCommands {
    static func ping(_ session: RESPSession, _ args: RESPArguments) {
        let n = args.count
        guard n <= 2 else { session.wrongArity(args); return }
        if session.subscriptionCount > 0 && !session.resp3 {
            RESPWriter.array(2, into: &session.output)
            RESPWriter.bulk("pong", into: &session.output)
            if n == 2 { RESPWriter.bulk(args[1], into: &session.output) } else { RESPWriter.bulk([UInt8](), into: &session.output) }
        } else if n == 2 {
            RESPWriter.bulk(args[1], into: &session.output)
        } else {
            RESPWriter.simple("PONG", into: &session.output)
        }
    }

    static func echo(_ session: RESPSession, _ args: RESPArguments) {
        RESPWriter.bulk(args[1], into: &session.output)
    }

    static func select(_ session: RESPSession, _ args: RESPArguments) {
        guard let index = args.integer(1) else { RESPWriter.error("ERR value is not an integer or out of range", into: &session.output); return }
        // Redis reads the index as a C int (getIntFromObjectOrReply).
        guard let _ = Int32(exactly: index) else {
            RESPWriter.error("ERR value is out of range, value must between -2147483648 and 2147483647", into: &session.output)
            return
        }
        if session.context.cluster != nil && index != 0 {
            return RESPWriter.error("ERR SELECT is not allowed in cluster mode", into: &session.output)
        }
        guard index >= 0 && index < session.context.store.databaseCount else {
            return RESPWriter.error("ERR DB index is out of range", into: &session.output)
        }
        session.connection.database = UInt8(index)
        session.context.resp.update(session.clientID) { $0.database = Int(index) }
        RESPWriter.ok(into: &session.output)
    }

    /// AUTH [username] password.
    static func auth(_ session: RESPSession, _ args: RESPArguments) {
        let n = args.count
        guard n <= 3 else { RESPWriter.error("ERR syntax error", into: &session.output); return }
        if n == 2 && !session.context.authenticator.isRequired {
            RESPWriter.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?", into: &session.output)
        } else if let problem = session.connection.authenticate(name: n == 3 ? args.string(1) : nil, password: args[n - 1]) {
            RESPWriter.error(problem, into: &session.output)
        } else {
            RESPWriter.ok(into: &session.output)
        }
    }

    static func quit(_ session: RESPSession, _ args: RESPArguments) {
        RESPWriter.ok(into: &session.output)
        session.connection.closeAfterFlush()
    }

    static func reset(_ session: RESPSession, _ args: RESPArguments) {
        session.resp3 = false
        // Redis's clearClientConnectionState: replies on again (a SKIP in force still takes this reply).
        session.repliesOff = false
        if session.skip == .next { session.skip = .none }
        session.tracking = nil
        session.unsubscribeAll()
        session.transaction = nil
        session.watched.removeAll()
        session.connection.database = 0
        session.context.resp.update(session.clientID) { $0.name = ""; $0.protocolVersion = 2; $0.database = 0 }
        RESPWriter.simple("RESET", into: &session.output)
    }

    /// HELLO [protover [AUTH username password] [SETNAME clientname]]
    static func hello(_ session: RESPSession, _ args: RESPArguments) {
        var version = session.resp3 ? 3 : 2
        var i = 1
        if args.count > 1 {
            guard let v = args.integer(1) else {
                RESPWriter.error("ERR Protocol version is not an integer or out of range", into: &session.output)
                return
            }
            guard v == 2 || v == 3 else { RESPWriter.error("NOPROTO unsupported protocol version", into: &session.output); return }
            version = Int(v)
            i = 2
        }
        var name: String? = nil
        while i < args.count {
            if args.is(i, "AUTH"), i + 2 < args.count {
                if let problem = session.connection.authenticate(name: args.string(i + 1), password: args[i + 2]) {
                    RESPWriter.error(problem, into: &session.output)
                    return
                }
                i += 3
            } else if args.is(i, "SETNAME"), i + 1 < args.count {
                let candidate = args.string(i + 1)
                guard validClientName(session, candidate) else {
                    RESPWriter.error("ERR Client names cannot contain spaces, newlines or special characters.", into: &session.output)
                    return
                }
                name = candidate
                i += 2
            } else {
                RESPWriter.error("ERR Syntax error in HELLO option '\(args.string(i))'", into: &session.output)
                return
            }
        }
        guard session.connection.user != nil else {
            RESPWriter.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time", into: &session.output)
            return
        }
        session.resp3 = version == 3
        session.context.resp.update(session.clientID) { info in
            info.protocolVersion = version
            if let name { info.name = name }
        }
        RESPWriter.map(7, resp3: session.resp3, into: &session.output)
        RESPWriter.bulk("server", into: &session.output); RESPWriter.bulk("redis", into: &session.output)
        RESPWriter.bulk("version", into: &session.output); RESPWriter.bulk(RESPSession.redisVersion, into: &session.output)
        RESPWriter.bulk("proto", into: &session.output); RESPWriter.integer(version, into: &session.output)
        RESPWriter.bulk("id", into: &session.output); RESPWriter.integer(session.clientID, into: &session.output)
        RESPWriter.bulk("mode", into: &session.output); RESPWriter.bulk(session.context.cluster == nil ? "standalone" : "cluster", into: &session.output)
        RESPWriter.bulk("role", into: &session.output); RESPWriter.bulk("master", into: &session.output)
        RESPWriter.bulk("modules", into: &session.output); RESPWriter.array(0, into: &session.output)
    }

    private static func validClientName(_ session: RESPSession, _ name: String) -> Bool {
        name.utf8.allSatisfy { $0 > 32 && $0 < 127 }
    }

    private static func clientLine(_ session: RESPSession, _ c: ClientInfo) -> String {
        "id=\(c.id) addr=\(c.address) laddr=? fd=0 name=\(c.name) age=\(max(0, MonotonicClock.seconds() - c.connectedAt)) db=\(c.database) "
            + "sub=0 psub=0 multi=-1 resp=\(c.protocolVersion) lib-name=\(c.libraryName) lib-ver=\(c.libraryVersion) io-thread=\(c.reactor) cmd=\(c.lastCommand)\n"
    }

    /// CLIENT SETNAME, GETNAME, SETINFO, ID, LIST, INFO, and TRACKING, CACHING, GETREDIR, TRACKINGINFO
    /// (`RESPTracking`).
    static func client(_ session: RESPSession, _ args: RESPArguments) {
        session.context.resp.update(session.clientID) { $0.lastCommand = "client|" + (args.count > 1 ? args.string(1).lowercased() : "") }
        if args.is(1, "SETNAME") {
            guard args.count == 3 else { session.wrongArity(args); return }
            let name = args.string(2)
            guard validClientName(session, name) || name.isEmpty else {
                RESPWriter.error("ERR Client names cannot contain spaces, newlines or special characters.", into: &session.output)
                return
            }
            session.context.resp.update(session.clientID) { $0.name = name }
            RESPWriter.ok(into: &session.output)
        } else if args.is(1, "GETNAME") {
            let name = session.context.resp.info(session.clientID)?.name ?? ""
            if name.isEmpty { RESPWriter.null(resp3: session.resp3, into: &session.output) } else { RESPWriter.bulk(name, into: &session.output) }
        } else if args.is(1, "SETINFO") {
            guard args.count == 4 else { session.wrongArity(args); return }
            let value = args.string(3)
            if args.is(2, "LIB-NAME") { session.context.resp.update(session.clientID) { $0.libraryName = value } }
            else if args.is(2, "LIB-VER") { session.context.resp.update(session.clientID) { $0.libraryVersion = value } }
            else { RESPWriter.error("ERR Unrecognized option '\(args.string(2))'", into: &session.output); return }
            RESPWriter.ok(into: &session.output)
        } else if args.is(1, "TRACKING") {
            guard args.count >= 3 else { session.wrongArity(args, "client|tracking"); return }
            TrackingCommands.clientTracking(session, args)
        } else if args.is(1, "CACHING") {
            guard args.count == 3 else { session.wrongArity(args, "client|caching"); return }
            TrackingCommands.clientCaching(session, args)
        } else if args.is(1, "GETREDIR") {
            guard args.count == 2 else { session.wrongArity(args, "client|getredir"); return }
            TrackingCommands.clientGetRedirect(session, args)
        } else if args.is(1, "TRACKINGINFO") {
            guard args.count == 2 else { session.wrongArity(args, "client|trackinginfo"); return }
            TrackingCommands.clientTrackingInfo(session, args)
        } else if args.is(1, "ID") {
            RESPWriter.integer(session.clientID, into: &session.output)
        } else if args.is(1, "UNBLOCK") {
            guard args.count == 3 || args.count == 4 else { session.wrongArity(args, "client|unblock"); return }
            guard let id = args.integer(2) else { return RESPWriter.error(RESPError.notInteger.message, into: &session.output) }
            var reason = UnblockReason.timeout
            if args.count == 4 {
                if args.is(3, "ERROR") { reason = .error } else if !args.is(3, "TIMEOUT") {
                    return RESPWriter.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR", into: &session.output)
                }
            }
            // The writer holds the blocked clients: it answers the blocked command and this one together.
            guard id > 0, id <= Int64(UInt32.max) else { return RESPWriter.integer(0, into: &session.output) }
            _ = session.submit(.unblock(client: UInt32(id), reason))
        } else if args.is(1, "REPLY") {
            guard args.count == 3 else { session.wrongArity(args, "client|reply"); return }
            clientReply(session, args)
        } else if args.is(1, "LIST") {
            RESPWriter.verbatim(session.context.resp.all.map { clientLine(session, $0) }.joined(), resp3: session.resp3, into: &session.output)
        } else if args.is(1, "INFO") {
            let line = session.context.resp.info(session.clientID).map { clientLine(session, $0) } ?? ""
            RESPWriter.verbatim(line, resp3: session.resp3, into: &session.output)
        } else {
            RESPWriter.error("ERR unknown subcommand '\(args.count > 1 ? args.string(1) : "")'. Try CLIENT HELP.", into: &session.output)
        }
    }

    /// CLIENT REPLY ON|OFF|SKIP, as Redis: OFF and SKIP answer nothing themselves; SKIP does nothing
    /// while replies are off.
    private static func clientReply(_ session: RESPSession, _ args: RESPArguments) {
        if args.is(2, "ON") {
            session.repliesOff = false
            session.skip = .none
            RESPWriter.ok(into: &session.output)
        } else if args.is(2, "OFF") {
            session.repliesOff = true
        } else if args.is(2, "SKIP") {
            if !session.repliesOff { session.skip = .next }
        } else {
            RESPWriter.error("ERR syntax error", into: &session.output)
        }
    }
}
