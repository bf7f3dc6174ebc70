import Foundation
import StoreLayout

/// A user as the daemon checks it: a password digest, permissions and key prefixes.
struct User: Sendable {
    let name: String
    let passwordDigest: [UInt8]
    let permissions: Permissions
    /// Keys the user may touch start with one of these; empty: every key.
    let keyPrefixes: [[UInt8]]

    /// Who a connection is when no password is configured: Redis's `default` user with `nopass`.
    static let unrestricted = User(name: "default", passwordDigest: [], permissions: .all, keyPrefixes: [])

    var isKeyRestricted: Bool { !keyPrefixes.isEmpty }

    func mayAccess(key: UnsafeRawBufferPointer) -> Bool {
        keyPrefixes.isEmpty || keyPrefixes.contains { prefix in key.starts(with: prefix) }
    }

    /// The user as ACL LIST shows it (Redis's syntax: on, #<sha256>, ~key patterns, &channels, +@categories).
    var aclLine: String {
        var parts = ["user", name, "on"]
        parts.append(passwordDigest.isEmpty ? "nopass" : "#" + SHA256.hex(passwordDigest))
        parts += keyPrefixes.isEmpty ? ["~*"] : keyPrefixes.map { "~" + String(decoding: $0, as: UTF8.self) + "*" }
        parts.append(keyPrefixes.isEmpty ? "&*" : "resetchannels")
        if permissions == .all { parts.append("+@all") } else {
            parts.append("-@all")
            if permissions.contains(.read) { parts.append("+@read") }
            if permissions.contains(.write) { parts.append("+@write") }
            if permissions.contains(.admin) { parts.append("+@admin") }
        }
        return parts.joined(separator: " ")
    }
}

/// The daemon's users, read from their password files once at start. AUTH compares SHA-256 digests in
/// constant time, and does the same work for an unknown user as for a known one.
final class Authenticator: Sendable {
    /// Whether connections must authenticate first.
    let isRequired: Bool
    private let users: [String: User]

    init(_ configuration: AuthConfiguration) throws(ServerError) {
        var users: [String: User] = [:]
        var defaultPassword = configuration.password
        if !configuration.passwordFile.isEmpty {
            defaultPassword = try Authenticator.readPassword(configuration.passwordFile, for: "auth.passwordFile")
        }
        if let defaultPassword {
            users["default"] = User(name: "default", passwordDigest: SHA256.digest(Array(defaultPassword.utf8)),
                                    permissions: .all, keyPrefixes: [])
        }
        for user in configuration.users {
            let password = try Authenticator.readPassword(user.passwordFile, for: "auth.users.\(user.name).passwordFile")
            users[user.name] = User(name: user.name, passwordDigest: SHA256.digest(Array(password.utf8)),
                                    permissions: user.permissions, keyPrefixes: user.keyPrefixes.map { Array($0.utf8) })
        }
        self.users = users
        isRequired = configuration.isRequired
    }

    /// The user a connection is before it authenticates: `default` without a password, else nobody.
    var initialUser: User? { isRequired ? nil : User.unrestricted }

    /// Every user, for ACL LIST (the `default` user first, as Redis lists it).
    var all: [User] {
        let named = users.values.filter { $0.name != "default" }.sorted { $0.name < $1.name }
        if let first = users["default"] { return [first] + named }
        return isRequired ? named : [User.unrestricted] + named
    }

    /// The user whose password this is, or nil. `name` nil means `default` (AUTH with one argument).
    func authenticate(name: String?, password: UnsafeRawBufferPointer) -> User? {
        let candidate = SHA256.digest(password)
        let user = users[name ?? "default"]
        // Compare against something of the same length even for an unknown user: equal work either way.
        let stored = user?.passwordDigest ?? [UInt8](repeating: 0, count: 32)
        var difference: UInt8 = user == nil ? 1 : 0
        for i in 0..<32 { difference |= candidate[i] ^ stored[i] }
        return difference == 0 ? user : nil
    }

    /// The first line of `path`, without its line end; an empty password is refused.
    static func readPassword(_ path: String, for key: String) throws(ServerError) -> String {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .configuration("\(key): cannot read \(path): \(error.localizedDescription)")
        }
        // Bytes, not Characters: "\r\n" is one Character in Swift.
        var line = Array(text.utf8.prefix { $0 != UInt8(ascii: "\n") })
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        let password = String(decoding: line, as: UTF8.self)
        guard !password.isEmpty else { throw .configuration("\(key): \(path) holds no password on its first line") }
        return password
    }
}
