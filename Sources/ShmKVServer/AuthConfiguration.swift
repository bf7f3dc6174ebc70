import Configuration
import Foundation
import Reactor
import Yams

/// What a user may do, from the command table's flags: read (read-only commands), write (commands that
/// change keys), admin (commands that change or reveal the server: CONFIG, FLUSHDB, FLUSHALL).
public struct Permissions: OptionSet, Sendable, Hashable {
    /// The bits: read 1, write 2, admin 4.
    public let rawValue: UInt8
    /// Permissions from their bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Read-only commands (GET, MGET, SCAN, KEYS, EXISTS, …), statistics and subscribing.
    public static let read = Permissions(rawValue: 1)
    /// Commands that change keys (SET, DEL, INCR, …).
    public static let write = Permissions(rawValue: 2)
    /// Commands that change or reveal the server (CONFIG, FLUSHDB, FLUSHALL, ACL LIST).
    public static let admin = Permissions(rawValue: 4)
    /// Everything: what the `default` user has.
    public static let all: Permissions = [.read, .write, .admin]

    /// The names used in configuration and ACL LIST, in that order.
    static let names: [(String, Permissions)] = [("read", .read), ("write", .write), ("admin", .admin)]
}

/// One named user (`auth.users.NAME` in the configuration file).
public struct UserConfiguration: Sendable, Equatable {
    /// The name clients log in with (AUTH NAME PASSWORD); unique.
    public var name: String
    /// File whose first line is the password (read at start; never logged).
    public var passwordFile: String
    /// What the user may do; a command needing more answers NOPERM.
    public var permissions: Permissions
    /// Keys the user may touch start with one of these; empty: every key.
    public var keyPrefixes: [String]

    /// A user; the password file is read when the daemon starts, not here.
    public init(name: String, passwordFile: String, permissions: Permissions = .all, keyPrefixes: [String] = []) {
        self.name = name
        self.passwordFile = passwordFile
        self.permissions = permissions
        self.keyPrefixes = keyPrefixes
    }
}

/// `auth.*`: who may use the daemon. Passwords come from files or the environment, never from a flag
/// (a flag's value shows in `ps` and shell history).
public struct AuthConfiguration: Sendable, Equatable {
    /// File holding the `default` user's password (Redis's `requirepass`); "" for none.
    public var passwordFile = ""
    /// The `default` user's password from `SHMKV_AUTH_PASSWORD`; never printed by `--print-config`.
    public var password: String? = nil
    /// Protected mode off: listen on a non-loopback address with no password (Redis's
    /// `protected-mode no`). Off by default.
    public var allowUnauthenticatedRemote = false
    /// Named users, each with its own password file, permissions and key prefixes.
    public var users: [UserConfiguration] = []
    /// Seconds a connection may stay unauthenticated when a password is required (0: no limit).
    public var timeout = 10

    /// No password and no users: every client is the unrestricted `default` user.
    public init() {}

    /// Whether clients must authenticate: some password or user is configured.
    public var isRequired: Bool { !passwordFile.isEmpty || password != nil || !users.isEmpty }

    /// Reads `auth.*` from the configuration and the password from `environment`.
    init(values: ConfigValues, environment: [String: String], file: String?) throws(ConfigurationError) {
        passwordFile = try values.string("auth.passwordFile") ?? ""
        if let secret = environment["SHMKV_AUTH_PASSWORD"], !secret.isEmpty { password = secret }
        allowUnauthenticatedRemote = try values.flag("auth.allowUnauthenticatedRemote") ?? false
        timeout = try values.int("auth.timeout") ?? AuthConfiguration().timeout
        if let file { users = try AuthConfiguration.users(inYAMLFile: file) }
        if timeout < 0 { throw ConfigurationError("auth.timeout must be 0 (no limit) or more seconds (got \(timeout))") }
    }

    /// `auth.users` from the YAML file: a mapping NAME → {passwordFile, permissions, keyPrefixes}.
    static func users(inYAMLFile path: String) throws(ConfigurationError) -> [UserConfiguration] {
        let root: Node?
        do { root = try Yams.compose(yaml: String(contentsOfFile: path, encoding: .utf8)) } catch {
            throw ConfigurationError("\(path): \(error)")
        }
        guard let users = root?.mapping?["auth"]?.mapping?["users"] else { return [] }
        guard let entries = users.mapping else { throw ConfigurationError("auth.users must be a mapping of user names") }
        var result: [UserConfiguration] = []
        for (key, node) in entries {
            let name = key.string ?? ""
            let where_ = "auth.users.\(name)"
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 }), name != "default" else {
                throw ConfigurationError("\(where_): a user name is printable ASCII without spaces, and not 'default' (that is auth.passwordFile)")
            }
            guard let fields = node.mapping else { throw ConfigurationError("\(where_) must be a mapping") }
            for (field, _) in fields where !["passwordFile", "permissions", "keyPrefixes"].contains(field.string ?? "") {
                throw ConfigurationError("\(where_): unknown key \(field.string ?? "?") (known: passwordFile, permissions, keyPrefixes)")
            }
            guard let passwordFile = fields["passwordFile"]?.string, !passwordFile.isEmpty else {
                throw ConfigurationError("\(where_).passwordFile is required")
            }
            var permissions: Permissions = []
            for item in fields["permissions"]?.sequence ?? [] {
                guard let text = item.string, let p = Permissions.names.first(where: { $0.0 == text })?.1 else {
                    throw ConfigurationError("\(where_).permissions: each is read, write or admin (got \(item.string ?? "?"))")
                }
                permissions.insert(p)
            }
            if fields["permissions"] == nil { permissions = .all }
            let prefixes = (fields["keyPrefixes"]?.sequence ?? []).compactMap(\.string)
            result.append(UserConfiguration(name: name, passwordFile: passwordFile, permissions: permissions, keyPrefixes: prefixes))
        }
        return result.sorted { $0.name < $1.name }
    }
}

extension ServerConfiguration {
    /// Protected mode, as Redis's: a TCP listener that other hosts can reach needs a password, unless
    /// `auth.allowUnauthenticatedRemote` says, explicitly, that everyone may use the store.
    func checkProtectedMode() throws(ConfigurationError) {
        guard let listen, case .tcp(let host, _)? = Endpoint.parseHostPort(listen), !Socket.isLoopback(host: host) else { return }
        if auth.isRequired || auth.allowUnauthenticatedRemote { return }
        throw ConfigurationError("""
            protected mode: listen \(listen) can be reached from other hosts, and no password is set. \
            Set auth.passwordFile (or SHMKV_AUTH_PASSWORD, or auth.users), or listen on 127.0.0.1, or set \
            auth.allowUnauthenticatedRemote: yes to let every peer read and write without a password
            """)
    }
}
