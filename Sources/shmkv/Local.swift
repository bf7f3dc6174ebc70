import ArgumentParser
import Foundation
import ShmKV

/// Reading the data directory directly, with no daemon round trip.
struct LocalOptions: ParsableArguments {
    @Flag(name: .long, help: "Read the shared map directly (LocalStore) instead of asking the daemon.")
    var local = false

    @Option(name: .customLong("data-dir"),
            help: "The daemon's data directory, for --local and watch (default: $SHMKV_DATA_DIR, else the directory of the Unix socket, else ./data). Implies --local.")
    var dataDir: String?

    /// Whether to read locally.
    var isLocal: Bool { local || dataDir != nil }

    /// The data directory to open: the flag, `$SHMKV_DATA_DIR`, the default socket's directory, or ./data.
    func directory(for address: ServerAddress) -> String {
        if let dataDir { return dataDir }
        if let env = ProcessInfo.processInfo.environment["SHMKV_DATA_DIR"], !env.isEmpty { return env }
        if case .unix(let path) = address, path.hasSuffix("/shmkvd.sock") { return String(path.dropLast("/shmkvd.sock".count)) }
        return "./data"
    }

    /// A ring subscriber made by `subscribe` when following the ring locally is asked for (a failure
    /// then is exit status 2) or possible (the daemon's data directory is readable); nil to use the socket.
    func ringSubscriber<S>(for address: ServerAddress, remote: Bool, _ subscribe: (LocalStore) throws -> S) throws -> S? {
        guard !remote else { return nil }
        if isLocal {
            let store = try open(for: address)
            do { return try subscribe(store) } catch {
                Display.error("cannot follow the ring of \(store.directory): \(error)")
                throw ExitCode(ExitStatus.serverOrConnection)
            }
        }
        guard let store = try? LocalStore(directory: directory(for: address)) else { return nil }
        return try? subscribe(store)
    }

    /// Opens the store, turning a failure into a message and exit status 2.
    func open(for address: ServerAddress) throws -> LocalStore {
        let directory = directory(for: address)
        do { return try LocalStore(directory: directory) } catch {
            Display.error("cannot read \(directory) directly: \(error)")
            throw ExitCode(ExitStatus.serverOrConnection)
        }
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every change to keys with a prefix as it is committed, one line per event.",
        discussion: """
            Lines are 'put SEQ KEY', 'delete SEQ KEY', 'clear SEQ', or 'resync REASON FROM-TO' when changes \
            FROM to TO were missed (the watcher was lapped, changes were never announced, or the daemon \
            restarted with a new ring): reread what you care about. Events come straight from the \
            notification ring when the data directory is readable (--data-dir, or the daemon's own), \
            over the socket otherwise (or with --remote).
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var localOptions: LocalOptions
    @Argument(help: "Only keys starting with this (default: all keys).") var prefix: String = ""
    @Option(name: .long, help: "Start at this sequence number if the ring still holds it (default: from now).") var from: UInt64?
    @Option(name: .long, help: "Exit after this many events.") var count: Int?
    @Flag(name: .long, help: "Watch over the socket even when the data directory is readable.") var remote = false

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if remote && localOptions.isLocal { throw ValidationError("--remote cannot be combined with --local or --data-dir") }
    }

    func run() async throws {
        let prefixBytes = Array(prefix.utf8)
        let source: ChangeSource
        if let subscriber = try localSubscriber(prefix: prefixBytes) {
            source = subscriber
        } else {
            source = try await withClient(connection) { client in
                try client.watch(prefix: prefixBytes, from: from ?? 0)
            }
        }
        var seen = 0
        while count.map({ seen < $0 }) ?? true {
            let event: ChangeEvent?
            do { event = try source.next(timeoutMilliseconds: nil) } catch {
                Display.error("\(error)")
                throw ExitCode(ExitStatus.serverOrConnection)
            }
            guard let event else { continue }
            seen += 1
            Display.line(connection.json ? Display.jsonLine(event) : Display.text(event))
        }
    }

    /// A ring subscriber when watching locally is asked for or possible; nil to use the socket.
    private func localSubscriber(prefix: [UInt8]) throws -> ChangeSubscriber? {
        let start: ChangeStart = from.map { .sequence($0) } ?? .now
        return try localOptions.ringSubscriber(for: connection.address, remote: remote) { try $0.subscribe(prefix: prefix, from: start) }
    }
}

extension Display {
    /// One event as a line of text.
    static func text(_ event: ChangeEvent) -> String {
        switch event {
        case .change(let c) where c.kind == .clear: "clear \(c.sequence)"
        case .change(let c): "\(c.kind) \(c.sequence) \(text(c.key))"
        case .resync(let r): text(r)
        }
    }

    /// A resync of either stream: `resync REASON` or `resync REASON FROM-TO`.
    static func text(_ r: Resync) -> String {
        r.missed.isEmpty ? "resync \(r.reason.rawValue)" : "resync \(r.reason.rawValue) \(r.missed.lowerBound)-\(r.missed.upperBound - 1)"
    }

    /// One event as a JSON object on one line.
    static func jsonLine(_ event: ChangeEvent) -> String {
        switch event {
        case .change(let c):
            jsonLine(["event": "\(c.kind)", "sequence": c.sequence, "txn": c.transactionID, "key": json(c.key),
                      "redis_event": c.event.redisName])
        case .resync(let r): jsonLine(r)
        }
    }

    /// A resync of either stream as a JSON object on one line.
    static func jsonLine(_ r: Resync) -> String {
        jsonLine(["event": "resync", "reason": r.reason.rawValue, "missed_from": r.missed.lowerBound, "missed_to": r.missed.upperBound])
    }

    /// `object` as JSON on one line, keys sorted.
    static func jsonLine(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes a line to stdout at once (a watcher's reader may be a pipe).
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// Writes "shmkv: message" to stderr.
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("shmkv: \(message)\n".utf8))
    }
}
