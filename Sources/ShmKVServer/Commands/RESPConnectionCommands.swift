import Posix
import Wire

/// The connection commands: PING, ECHO, HELLO, CLIENT, SELECT, AUTH, QUIT, RESET.
extension RESPSession {
    /// The Redis version HELLO and INFO report: the feature level clients may expect. 7.4 because
    /// redis-py 8 offers its client-side cache (CLIENT TRACKING) only to servers of 7.4 or later.
    static let redisVersion = "7.4.0"

    func ping(_ args: RESPArguments) {
        let n = args.count
        guard n <= 2 else { wrongArity(args); return }
        if subscriptionCount > 0 && !resp3 {
            RESPWriter.array(2, into: &output)
            RESPWriter.bulk("pong", into: &output)
            if n == 2 { RESPWriter.bulk(args[1], into: &output) } else { RESPWriter.bulk([UInt8](), into: &output) }
        } else if n == 2 {
            RESPWriter.bulk(args[1], into: &output)
        } else {
            RESPWriter.simple("PONG", into: &output)
        }
    }

    func echo(_ args: RESPArguments) {
        RESPWriter.bulk(args[1], into: &output)
    }

    func select(_ args: RESPArguments) {
        guard let index = args.integer(1) else { RESPWriter.error("ERR value is not an integer or out of range", into: &output); return }
        // Redis reads the index as a C int (getIntFromObjectOrReply).
        guard let _ = Int32(exactly: index) else {
            RESPWriter.error("ERR value is out of range, value must between -2147483648 and 2147483647", into: &output)
            return
        }
        if index == 0 { RESPWriter.ok(into: &output) } else { RESPWriter.error("ERR DB index is out of range", into: &output) }
    }

    /// AUTH [username] password.
    func auth(_ args: RESPArguments) {
        let n = args.count
        guard n <= 3 else { RESPWriter.error("ERR syntax error", into: &output); return }
        if n == 2 && !context.authenticator.isRequired {
            RESPWriter.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?", into: &output)
        } else if let problem = connection.authenticate(name: n == 3 ? args.string(1) : nil, password: args[n - 1]) {
            RESPWriter.error(problem, into: &output)
        } else {
            RESPWriter.ok(into: &output)
        }
    }

    func quit(_ args: RESPArguments) {
        RESPWriter.ok(into: &output)
        connection.closeAfterFlush()
    }

    func reset(_ args: RESPArguments) {
        resp3 = false
        // Redis's clearClientConnectionState: replies on again (a SKIP in force still takes this reply).
        repliesOff = false
        if skip == .next { skip = .none }
        tracking = nil
        unsubscribeAll()
        transaction = nil
        watched.removeAll()
        context.resp.update(clientID) { $0.name = ""; $0.protocolVersion = 2 }
        RESPWriter.simple("RESET", into: &output)
    }

    /// HELLO [protover [AUTH username password] [SETNAME clientname]]
    func hello(_ args: RESPArguments) {
        var version = resp3 ? 3 : 2
        var i = 1
        if args.count > 1 {
            guard let v = args.integer(1) else {
                RESPWriter.error("ERR Protocol version is not an integer or out of range", into: &output)
                return
            }
            guard v == 2 || v == 3 else { RESPWriter.error("NOPROTO unsupported protocol version", into: &output); return }
            version = Int(v)
            i = 2
        }
        var name: String? = nil
        while i < args.count {
            if args.is(i, "AUTH"), i + 2 < args.count {
                if let problem = connection.authenticate(name: args.string(i + 1), password: args[i + 2]) {
                    RESPWriter.error(problem, into: &output)
                    return
                }
                i += 3
            } else if args.is(i, "SETNAME"), i + 1 < args.count {
                let candidate = args.string(i + 1)
                guard validClientName(candidate) else {
                    RESPWriter.error("ERR Client names cannot contain spaces, newlines or special characters.", into: &output)
                    return
                }
                name = candidate
                i += 2
            } else {
                RESPWriter.error("ERR Syntax error in HELLO option '\(args.string(i))'", into: &output)
                return
            }
        }
        guard connection.user != nil else {
            RESPWriter.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time", into: &output)
            return
        }
        resp3 = version == 3
        context.resp.update(clientID) { info in
            info.protocolVersion = version
            if let name { info.name = name }
        }
        RESPWriter.map(7, resp3: resp3, into: &output)
        RESPWriter.bulk("server", into: &output); RESPWriter.bulk("redis", into: &output)
        RESPWriter.bulk("version", into: &output); RESPWriter.bulk(RESPSession.redisVersion, into: &output)
        RESPWriter.bulk("proto", into: &output); RESPWriter.integer(version, into: &output)
        RESPWriter.bulk("id", into: &output); RESPWriter.integer(clientID, into: &output)
        RESPWriter.bulk("mode", into: &output); RESPWriter.bulk(context.cluster == nil ? "standalone" : "cluster", into: &output)
        RESPWriter.bulk("role", into: &output); RESPWriter.bulk("master", into: &output)
        RESPWriter.bulk("modules", into: &output); RESPWriter.array(0, into: &output)
    }

    private func validClientName(_ name: String) -> Bool {
        name.utf8.allSatisfy { $0 > 32 && $0 < 127 }
    }

    private func clientLine(_ c: ClientInfo) -> String {
        "id=\(c.id) addr=\(c.address) laddr=? fd=0 name=\(c.name) age=\(max(0, MonotonicClock.seconds() - c.connectedAt)) db=0 "
            + "sub=0 psub=0 multi=-1 resp=\(c.protocolVersion) lib-name=\(c.libraryName) lib-ver=\(c.libraryVersion) cmd=\(c.lastCommand)\n"
    }

    /// CLIENT SETNAME, GETNAME, SETINFO, ID, LIST, INFO, and TRACKING, CACHING, GETREDIR, TRACKINGINFO
    /// (`RESPTracking`).
    func client(_ args: RESPArguments) {
        context.resp.update(clientID) { $0.lastCommand = "client|" + (args.count > 1 ? args.string(1).lowercased() : "") }
        if args.is(1, "SETNAME") {
            guard args.count == 3 else { wrongArity(args); return }
            let name = args.string(2)
            guard validClientName(name) || name.isEmpty else {
                RESPWriter.error("ERR Client names cannot contain spaces, newlines or special characters.", into: &output)
                return
            }
            context.resp.update(clientID) { $0.name = name }
            RESPWriter.ok(into: &output)
        } else if args.is(1, "GETNAME") {
            let name = context.resp.info(clientID)?.name ?? ""
            if name.isEmpty { RESPWriter.null(resp3: resp3, into: &output) } else { RESPWriter.bulk(name, into: &output) }
        } else if args.is(1, "SETINFO") {
            guard args.count == 4 else { wrongArity(args); return }
            let value = args.string(3)
            if args.is(2, "LIB-NAME") { context.resp.update(clientID) { $0.libraryName = value } }
            else if args.is(2, "LIB-VER") { context.resp.update(clientID) { $0.libraryVersion = value } }
            else { RESPWriter.error("ERR Unrecognized option '\(args.string(2))'", into: &output); return }
            RESPWriter.ok(into: &output)
        } else if args.is(1, "TRACKING") {
            guard args.count >= 3 else { wrongArity(args, "client|tracking"); return }
            clientTracking(args)
        } else if args.is(1, "CACHING") {
            guard args.count == 3 else { wrongArity(args, "client|caching"); return }
            clientCaching(args)
        } else if args.is(1, "GETREDIR") {
            guard args.count == 2 else { wrongArity(args, "client|getredir"); return }
            clientGetRedirect(args)
        } else if args.is(1, "TRACKINGINFO") {
            guard args.count == 2 else { wrongArity(args, "client|trackinginfo"); return }
            clientTrackingInfo(args)
        } else if args.is(1, "ID") {
            RESPWriter.integer(clientID, into: &output)
        } else if args.is(1, "REPLY") {
            guard args.count == 3 else { wrongArity(args, "client|reply"); return }
            clientReply(args)
        } else if args.is(1, "LIST") {
            RESPWriter.verbatim(context.resp.all.map(clientLine).joined(), resp3: resp3, into: &output)
        } else if args.is(1, "INFO") {
            let line = context.resp.info(clientID).map(clientLine) ?? ""
            RESPWriter.verbatim(line, resp3: resp3, into: &output)
        } else {
            RESPWriter.error("ERR unknown subcommand '\(args.count > 1 ? args.string(1) : "")'. Try CLIENT HELP.", into: &output)
        }
    }

    /// CLIENT REPLY ON|OFF|SKIP, as Redis: OFF and SKIP answer nothing themselves; SKIP does nothing
    /// while replies are off.
    private func clientReply(_ args: RESPArguments) {
        if args.is(2, "ON") {
            repliesOff = false
            skip = .none
            RESPWriter.ok(into: &output)
        } else if args.is(2, "OFF") {
            repliesOff = true
        } else if args.is(2, "SKIP") {
            if !repliesOff { skip = .next }
        } else {
            RESPWriter.error("ERR syntax error", into: &output)
        }
    }
}
