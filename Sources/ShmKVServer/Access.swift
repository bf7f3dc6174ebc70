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


    /// Native: the refusal for `request`, or nil if this connection may run it.
    func accessRefusal(_ request: RequestView) -> (Status, String)? {
        if isUnrestricted { return nil }
        guard let user else {
            switch request {
            case .ping, .auth: return nil
            default: return (.authRequired, ServerConnection.noAuth)
            }
        }
        let needed: Permissions
        var keys: [UnsafeRawBufferPointer] = []
        switch request {
        case .ping, .auth: return nil
        case .get(let key), .ttl(let key): needed = .read; keys = [key]
        case .mget(let packed): needed = .read; keys = Array(packed)
        case .scan, .stats: needed = .read
        case .watch(let prefix, _): needed = .read; keys = [prefix]
        case .put(let key, _, _, _), .delete(let key), .incrBy(let key, _), .expire(let key, _, _): needed = .write; keys = [key]
        case .mput(let pairs): needed = .write; keys = pairs.map(\.key)
        case .transaction(let operations):
            // A value comparison reads the key too.
            needed = operations.contains { if case .equals = $0.condition { true } else { false } } ? [.read, .write] : .write
            keys = operations.map(\.key)
        case .subscribe, .publish:
            // As over RESP: a user limited to key prefixes may not use channels.
            guard !user.isKeyRestricted else { return (.permissionDenied, ServerConnection.noPermChannels) }
            needed = { if case .publish = request { .write } else { .read } }()
        }
        guard user.permissions.isSuperset(of: needed) else {
            return (.permissionDenied, ServerConnection.noPermCommand(request.name))
        }
        for key in keys where !user.mayAccess(key: key) { return (.permissionDenied, ServerConnection.noPermKeys) }
        return nil
    }

    /// RESP: the error for a command (nil: unknown) and its arguments run by `user` (nil: not
    /// authenticated), or nil if it may run. Before AUTH only the commands flagged `allowedBeforeAuth`
    /// run. A pure function of the table entry (`RESPSession.admit` skips it for unrestricted users).
    static func accessRefusal(_ command: Command?, _ args: RESPArguments, user: User?) -> String? {
        guard let user else {
            return command?.flags.contains(.allowedBeforeAuth) == true ? nil : ServerConnection.noAuth
        }
        // Unknown commands and bad arity get their own errors later.
        guard let command else { return nil }
        var needed = command.permission
        var name = command.name
        if command.flags.contains(.hasSubcommands) && args.count > 1 {
            name += "|" + args.string(1).lowercased()
            // Of ACL, only WHOAMI is for everyone.
            if command.name == "acl" && !args.is(1, "WHOAMI") { needed = .admin }
        }
        guard user.permissions.isSuperset(of: needed) else { return ServerConnection.noPermCommand(name) }
        guard user.isKeyRestricted else { return nil }
        if command.group == .pubsub { return command.name.hasSuffix("unsubscribe") ? nil : ServerConnection.noPermChannels }
        if command.flags.contains(.touchesAllKeys) { return ServerConnection.noPermKeys }
        for i in command.keys.indices(argumentCount: args.count) where !user.mayAccess(key: args[i]) {
            return ServerConnection.noPermKeys
        }
        return nil
    }

    /// Whether a key may appear in this connection's SCAN, KEYS or WATCH results: a user limited to key
    /// prefixes does not learn the names of other keys.
    func mayList(_ key: UnsafeRawBufferPointer) -> Bool {
        user?.mayAccess(key: key) ?? false
    }
}

extension RequestView {
    /// The request's name as NOPERM messages give it.
    var name: String {
        switch self {
        case .ping: "ping"
        case .get: "get"
        case .mget: "mget"
        case .put: "put"
        case .delete: "delete"
        case .mput: "mput"
        case .scan: "scan"
        case .incrBy: "incrby"
        case .stats: "stats"
        case .watch: "watch"
        case .auth: "auth"
        case .ttl: "ttl"
        case .expire: "expire"
        case .subscribe: "subscribe"
        case .publish: "publish"
        case .transaction: "txn"
        }
    }
}
