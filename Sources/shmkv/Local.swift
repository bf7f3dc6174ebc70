import ArgumentParser
import Foundation
import ShmKV

/// Reading the data directory directly, with no daemon round trip.
///
/// Which directory: `--data-dir` (or `$SHMKV_DATA_DIR`) when given; otherwise the one the daemon named by
/// `--socket`/`--host`/`--port` (or `$SHMKV_SOCKET`) says it serves (`CONFIG GET dir`); with nothing
/// named, the default daemon's if one answers, else ./data. Whenever a daemon is named, the directory
/// must be that daemon's store (`DaemonStore`: the ring epoch it recorded is the daemon's), or the
/// command refuses: a copy, a stale ./data or a path that means something else on this host is never
/// read in its place. Every command that reads a directory names it on stderr.
struct LocalOptions: ParsableArguments {
    @Flag(name: .long, help: "Read the shared map directly (LocalStore) instead of asking the daemon.")
    var local = false

    @Option(name: .customLong("data-dir"),
            help: "The daemon's data directory, for --local and watch (default: $SHMKV_DATA_DIR, else the directory the daemon reports, else ./data). Implies --local.")
    var dataDir: String?

    @Option(name: .customLong("db"), help: "The numbered database to read locally (Redis's SELECT; default 0).")
    var database = 0

    /// Whether to read locally.
    var isLocal: Bool { local || dataDir != nil }

    /// The directory given by the flag or `$SHMKV_DATA_DIR`, if any.
    var namedDirectory: String? {
        if let dataDir { return dataDir }
        if let env = ProcessInfo.processInfo.environment["SHMKV_DATA_DIR"], !env.isEmpty { return env }
        return nil
    }

    /// A ring subscriber made by `subscribe` when following the ring locally is asked for (a failure
    /// then is exit status 2) or possible (the daemon's own store is readable here); nil to use the socket.
    /// A subscriber whose ring is missing (no daemon runs on the store) waits for one, and says so.
    func ringSubscriber<S>(for connection: ConnectionOptions, remote: Bool, _ subscribe: (LocalStore) throws -> S,
                           missingRing: (S) -> String?) throws -> S? {
        guard !remote else { return nil }
        if isLocal {
            let store = try open(for: connection, purpose: "following the ring of")
            do {
                let subscriber = try subscribe(store)
                if let ring = missingRing(subscriber) {
                    Display.error("the ring \(ring) does not exist: no shmkvd runs on \(store.directory) now; waiting for one to start")
                }
                return subscriber
            } catch {
                Display.error("cannot follow the ring of \(store.directory): \(error)")
                throw ExitCode(ExitStatus.serverOrConnection)
            }
        }
        // Not asked for: only the daemon's own store, verified; anything else goes over the socket.
        guard let daemon = try? DaemonStore.ask(connection.address, timeoutSeconds: connection.timeout,
                                                credentials: connection.credentials()),
              let store = try? daemon.open(), let subscriber = try? subscribe(store) else { return nil }
        Display.error("following the ring of \(store.directory)")
        return subscriber
    }

    /// Opens the store to read (see the type's comment for which), naming it on stderr after `purpose`;
    /// a failure is a message and exit status 2.
    func open(for connection: ConnectionOptions, purpose: String = "reading") throws -> LocalStore {
        try openChecked(for: connection, purpose: purpose).store
    }

    /// `open`, with the daemon that was asked and found to serve the store (nil when none was asked:
    /// a directory named with no daemon named, or ./data with no daemon answering).
    func openChecked(for connection: ConnectionOptions, purpose: String) throws -> (store: LocalStore, daemon: DaemonStore?) {
        let located: (store: LocalStore, daemon: DaemonStore?)
        do { located = try locate(connection) } catch {
            Display.error(error.message)
            throw ExitCode(ExitStatus.serverOrConnection)
        }
        Display.error("\(purpose) \(located.store.directory)")
        return located
    }

    struct LocateError: Error { let message: String }

    private func locate(_ connection: ConnectionOptions) throws(LocateError) -> (store: LocalStore, daemon: DaemonStore?) {
        func openDirectory(_ directory: String) throws(LocateError) -> LocalStore {
            do { return try LocalStore(directory: directory, database: database) } catch {
                throw LocateError(message: "cannot read \(directory) directly: \(error)")
            }
        }
        let address = connection.address
        func ask() throws(ShmKVError) -> DaemonStore {
            let credentials: Credentials?
            do { credentials = try connection.credentials() } catch { throw .connection("\(error)") }
            return try DaemonStore.ask(address, timeoutSeconds: connection.timeout, credentials: credentials)
        }
        if let directory = namedDirectory {
            let store = try openDirectory(directory)
            guard connection.namesDaemon else { return (store, nil) }
            do {
                let daemon = try ask()
                try daemon.check(store)
                return (store, daemon)
            } catch {
                throw LocateError(message: "cannot check that \(directory) is the store of the daemon at \(address): \(error) (leave out the connection options to read \(directory) alone)")
            }
        }
        let daemon: DaemonStore
        do { daemon = try ask() } catch {
            // Nothing named and no daemon answering: the default directory, read as it lies.
            guard connection.namesDaemon else { return (try openDirectory("./data"), nil) }
            throw LocateError(message: "cannot ask the daemon at \(address) where its data is: \(error) (name the directory with --data-dir)")
        }
        do { return (try daemon.open(database: database), daemon) } catch {
            throw LocateError(message: "the daemon at \(address) keeps its data in \(daemon.directory), which is not readable here as its store: \(error)")
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
    @Argument(help: "Only keys starting with this (empty: all keys).") var prefix: String = ""
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
        return try localOptions.ringSubscriber(for: connection, remote: remote, { try $0.subscribe(prefix: prefix, from: start) },
                                               missingRing: { $0.isWaitingForRing ? $0.ringPath : nil })
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
