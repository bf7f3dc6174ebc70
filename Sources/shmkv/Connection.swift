import ArgumentParser
import Foundation
import ShmKV

/// Where to reach the daemon, shared by every subcommand. They may also come before the subcommand, as
/// with redis-cli (`shmkv --socket S get a`): `CommandLine.reordered` moves them after it.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Unix socket of the daemon (default: $SHMKV_SOCKET, else ./data/shmkvd.sock, else TCP 127.0.0.1:7379).")
    var socket: String?

    @Option(name: .long, help: "TCP host; with --host or --port the CLI uses TCP (default: 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "TCP port (default: 7379).")
    var port: Int?

    @Option(name: .long, help: "Seconds to wait for the server; 0 waits forever.")
    var timeout: Int = 30

    @Flag(name: .long, help: "Print results as JSON.")
    var json = false

    @Option(name: .long, help: "File whose first line is the password (default: $SHMKV_PASSWORD, else none).")
    var passwordFile: String?

    @Option(name: .long, help: "User to authenticate as, with the password (default: the default user).")
    var user: String?

    /// The credentials the options and environment give: --password-file, else SHMKV_PASSWORD; none if
    /// neither is set. A password is never taken from the command line, where `ps` would show it.
    func credentials() throws -> Credentials? {
        var password = ProcessInfo.processInfo.environment["SHMKV_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        if let passwordFile {
            guard let text = FileManager.default.contents(atPath: passwordFile) else {
                throw ValidationError("cannot read --password-file \(passwordFile)")
            }
            // The first line's bytes ("\r\n" is a single Character in Swift, so split bytes, not text).
            var line = Array(text.prefix { $0 != UInt8(ascii: "\n") })
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            password = String(decoding: line, as: UTF8.self)
        }
        guard let password else {
            if user != nil { throw ValidationError("--user needs a password: --password-file or SHMKV_PASSWORD") }
            return nil
        }
        return Credentials(user: user, password: password)
    }

    func validate() throws {
        if let port, !(1...65535).contains(port) { throw ValidationError("--port must be 1 to 65535") }
        if socket != nil && (host != nil || port != nil) { throw ValidationError("use either --socket or --host/--port") }
        if timeout < 0 { throw ValidationError("--timeout must not be negative") }
    }

    /// Whether a daemon is named (--socket, --host, --port or $SHMKV_SOCKET) rather than the default assumed.
    var namesDaemon: Bool {
        socket != nil || host != nil || port != nil || !(ProcessInfo.processInfo.environment["SHMKV_SOCKET"] ?? "").isEmpty
    }

    /// The address the options name, with the daemon's defaults.
    var address: ServerAddress {
        if host != nil || port != nil { return .tcp(host: host ?? "127.0.0.1", port: port ?? 7379) }
        if let socket { return .unix(path: socket) }
        if let env = ProcessInfo.processInfo.environment["SHMKV_SOCKET"], !env.isEmpty { return .unix(path: env) }
        if FileManager.default.fileExists(atPath: "./data/shmkvd.sock") { return .unix(path: "./data/shmkvd.sock") }
        return .tcp(host: "127.0.0.1", port: 7379)
    }
}

/// The CLI's exit statuses, which scripts can rely on.
enum ExitStatus {
    /// The key (or one of the keys asked for) is not there.
    static let notFound: Int32 = 1
    /// The server answered with an error, or the connection failed.
    static let serverOrConnection: Int32 = 2
}

/// Runs `body`, turning ShmKV errors into a message on stderr and exit status 2. A cluster node's MOVED
/// is followed once, as `redis-cli -c` does: `body` runs again against the node that owns the slot.
func withClient<R>(_ options: ConnectionOptions, _ body: (Client) async throws -> R) async throws -> R {
    func run(_ address: ServerAddress) async throws -> R {
        let client = try Client(address: address, timeoutSeconds: options.timeout, credentials: try options.credentials())
        defer { client.close() }
        return try await body(client)
    }
    do {
        do {
            return try await run(options.address)
        } catch let error as ShmKVError {
            guard let moved = error.redirection else { throw error }
            Display.error("redirected to slot [\(moved.slot)] located at \(moved.host):\(moved.port)")
            return try await run(.tcp(host: moved.host, port: moved.port))
        }
    } catch let error as ShmKVError {
        FileHandle.standardError.write(Data("shmkv: \(error)\n".utf8))
        throw ExitCode(ExitStatus.serverOrConnection)
    }
}
