import Wire

/// Authentication and permissions, for both protocols. A connection's `user` is nil until it
/// authenticates when the daemon requires a password; an unrestricted user (every permission, every key)
/// pays no check per request.
extension ServerConnection {
    static let wrongPass = "WRONGPASS invalid username-password pair or user is disabled."
    static let noAuth = "NOAUTH Authentication required."
    static let noPermKeys = "NOPERM this user has no permissions to access one of the keys used as arguments"
    static let noPermChannels = "NOPERM this user has no permissions to access one of the channels used as arguments"

    static func noPermCommand(_ name: String) -> String {
        "NOPERM this user has no permissions to run the '\(name)' command"
    }

    /// Checks a password; on success the connection becomes that user. Returns the error text on failure
    /// (the connection then stays who it was, as in Redis). `name` nil means the `default` user.
    func authenticate(name: String?, password: UnsafeRawBufferPointer) -> String? {
        let authenticator = context.authenticator
        guard authenticator.isRequired else {
            // No password configured: the default user has none and any password passes, as in Redis.
            return name == nil || name == "default" ? nil : ServerConnection.wrongPass
        }
        guard let authenticated = authenticator.authenticate(name: name, password: password) else {
            ServerStats.add(context.stats.authFailures)
            return ServerConnection.wrongPass
        }
        user = authenticated
        return nil
    }


    /// RESP: the error for a command (nil: unknown) and its arguments run by `user` (nil: not
    /// authenticated), or nil if it may run (`AccessCheck`; an unknown command before AUTH is NOAUTH,
    /// after it it gets its own error later). A pure function of the table entry (`RESPSession.admit`
    /// skips it for unrestricted users).
    static func accessRefusal(_ command: Command?, _ args: RESPArguments, user: User?) -> String? {
        guard let command else { return user == nil ? AccessRefusal.noAuth.message : nil }
        var needed = command.permission
        var name = command.name
        if command.flags.contains(.hasSubcommands) && args.count > 1 {
            name += "|" + args.string(1).lowercased()
            // Of ACL, only WHOAMI is for everyone.
            if command.name == "acl" && !args.is(1, "WHOAMI") { needed = .admin }
        }
        return AccessCheck.refusal(command, name: name, needs: needed, user: user) { mayAccess in
            command.keys.indices(in: args).allSatisfy { mayAccess(args[$0]) }
        }?.message
    }

    /// Native: the refusal for `request` (`AccessCheck`, with the opcode's entry in
    /// `CommandTable.native`), or nil if this connection may run it.
    func accessRefusal(_ request: RequestView, _ command: NativeCommand) -> (Status, String)? {
        if isUnrestricted { return nil }
        var needed = command.permission
        // A TXN's value comparison reads the key too.
        if case .transaction(let operations) = request, operations.contains(where: { if case .equals = $0.condition { true } else { false } }) {
            needed.insert(.read)
        }
        guard let refusal = AccessCheck.refusal(command, name: command.name, needs: needed, user: user, keys: request.allKeys) else { return nil }
        return (refusal == .noAuth ? .authRequired : .permissionDenied, refusal.message)
    }

    /// Whether a key may appear in this connection's SCAN, KEYS or WATCH results: a user limited to key
    /// prefixes does not learn the names of other keys.
    func mayList(_ key: UnsafeRawBufferPointer) -> Bool {
        user?.mayAccess(key: key) ?? false
    }
}

extension RequestView {
    /// Whether every key the request names satisfies `predicate` (WATCH's prefix counts as a key; the
    /// channels of SUBSCRIBE and PUBLISH do not).
    func allKeys(_ predicate: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        switch self {
        case .get(let key), .ttl(let key), .put(let key, _, _, _), .delete(let key), .incrBy(let key, _), .expire(let key, _, _),
             .watch(let key, _):
            return predicate(key)
        case .mget(let keys): return keys.allSatisfy(predicate)
        case .mput(let pairs): return pairs.allSatisfy { predicate($0.key) }
        case .transaction(let operations): return operations.allSatisfy { predicate($0.key) }
        case .ping, .auth, .scan, .stats, .subscribe, .publish: return true
        // CALL's command is checked as over RESP, with its own key positions (`NativeSession.call`).
        case .call: return true
        }
    }
}

/// Why a command may not run, whichever protocol sent it: RESP replies the message, the native protocol
/// a status with the same message.
enum AccessRefusal: Equatable {
    case noAuth
    case noPermCommand(String)
    case noPermKeys
    case noPermChannels

    var message: String {
        switch self {
        case .noAuth: ServerConnection.noAuth
        case .noPermCommand(let name): ServerConnection.noPermCommand(name)
        case .noPermKeys: ServerConnection.noPermKeys
        case .noPermChannels: ServerConnection.noPermChannels
        }
    }
}

/// The one access check, for RESP commands and native opcodes alike, read from their table entries.
enum AccessCheck {
    /// Whether `user` (nil: not authenticated) may run `command`, named `name` in NOPERM (`config|get`)
    /// and needing `needed`, on the keys `allKeys` visits. In Redis's order: authentication (before AUTH
    /// only `allowedBeforeAuth` commands), the command's permission, then (for a user limited to key
    /// prefixes) channels, commands that touch every key, and each key.
    static func refusal(_ command: some AccessDescribed, name: String, needs needed: Permissions, user: User?,
                        keys allKeys: ((UnsafeRawBufferPointer) -> Bool) -> Bool) -> AccessRefusal? {
        guard let user else { return command.flags.contains(.allowedBeforeAuth) ? nil : .noAuth }
        guard user.permissions.isSuperset(of: needed) else { return .noPermCommand(name) }
        guard user.isKeyRestricted else { return nil }
        // A user limited to key prefixes may not use channels (but may leave them).
        if command.group == .pubsub { return command.name.hasSuffix("unsubscribe") ? nil : .noPermChannels }
        if command.flags.contains(.touchesAllKeys) { return .noPermKeys }
        return allKeys { user.mayAccess(key: $0) } ? nil : .noPermKeys
    }
}
