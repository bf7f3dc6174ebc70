import ArgumentParser
import Foundation
import ShmKV
import Wire

/// A progress line on stderr, rewritten in place at most ten times a second: shown when stderr is a
/// terminal, or always with --progress (then one line per update, for logs and tests).
struct ProgressLine {
    let enabled: Bool
    let terminal = isatty(2) != 0
    let started = Date()
    private var last = Date.distantPast

    init(forced: Bool) { enabled = forced || isatty(2) != 0 }

    mutating func update(_ text: @autoclosure () -> String) {
        guard enabled, Date().timeIntervalSince(last) >= 0.1 else { return }
        last = Date()
        FileHandle.standardError.write(Data(((terminal ? "\r\u{1B}[K" : "") + text() + (terminal ? "" : "\n")).utf8))
    }

    /// Ends the progress line and prints the summary (always).
    func finish(_ summary: String) {
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        FileHandle.standardError.write(Data(((enabled && terminal ? "\r\u{1B}[K" : "") + "\(summary) in \(seconds) s\n").utf8))
    }

    static func bytes(_ n: Int) -> String { String(format: "%.1f MiB", Double(n) / 1_048_576) }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a live store consistently into a new directory (LMDB's hot copy, from this host).",
        discussion: """
            Reads the data directory directly while the daemon goes on serving: --data-dir or \
            $SHMKV_DATA_DIR, else the directory the named daemon (--socket, --host/--port) says it serves, \
            else the default daemon's, else ./data; a directory that is not the named daemon's store is \
            refused. The copy is one snapshot. DEST gets data.mdb, which \
            'shmkv restore', mdb_stat and py-lmdb open.
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var localOptions: LocalOptions
    @Argument(help: "The new (or empty) directory to write the copy to.") var destination: String
    @Flag(name: .long, help: "Leave out free pages: a smaller copy, more CPU.") var compact = false
    @Flag(name: .long, help: "Print progress lines even when stderr is not a terminal.") var progress = false

    func run() async throws {
        let store = try localOptions.open(for: connection, purpose: "backing up")
        let expected = store.expectedBackupBytes
        var line = ProgressLine(forced: progress)
        do {
            let total = try store.backup(to: destination, compact: compact) { done in
                line.update("backup: \(ProgressLine.bytes(done)) of about \(ProgressLine.bytes(expected))")
            }
            line.finish("backed up \(ProgressLine.bytes(total)) from \(store.directory) to \(destination)")
            if connection.json { Display.printJSON(["source": store.directory, "destination": destination, "bytes": total]) }
        } catch {
            Display.error("\(error)")
            throw ExitCode(ExitStatus.serverOrConnection)
        }
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a backup in place as the data directory of a stopped daemon.",
        discussion: """
            Refuses while a daemon runs on DATA-DIR; replaces an existing store only with --replace. The \
            restored store is a new store: it gets an environment id of its own, so its daemon makes its \
            own ring and never touches the original's.
            """)
    @Argument(help: "A directory written by 'shmkv backup'.") var backup: String
    @Argument(help: "The data directory to restore into (created if missing).") var dataDirectory: String
    @Flag(name: .long, help: "Replace the store already in DATA-DIR.") var replace = false
    @Flag(name: .long, help: "Print progress lines even when stderr is not a terminal.") var progress = false
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() async throws {
        var line = ProgressLine(forced: progress)
        do {
            let total = try DataDirectory.restore(from: backup, into: dataDirectory, replace: replace) { done in
                line.update("restore: \(ProgressLine.bytes(done))")
            }
            line.finish("restored \(ProgressLine.bytes(total)) into \(dataDirectory)")
            if json { Display.printJSON(["backup": backup, "data_dir": dataDirectory, "bytes": total]) }
        } catch {
            Display.error("\(error)")
            throw ExitCode(ExitStatus.serverOrConnection)
        }
    }
}

/// How dump writes and load reads keys.
enum DumpFormat: String, ExpressibleByArgument, CaseIterable {
    /// One JSON object per line: {"key": K, "value": V}, each a string or {"base64": "…"}, and
    /// "deadline_ms" (Unix time in milliseconds) for a key that expires.
    case json
    /// RESP commands (SET key value, with PXAT deadline for a key that expires), the input of
    /// `redis-cli --pipe`.
    case redis
}

struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write every key, value and deadline to stdout, streaming, as JSON lines or redis-cli --pipe input.",
        discussion: """
            With --local or --data-dir the keys come from one snapshot of the map (consistent); otherwise \
            through the daemon a page at a time (each page consistent, not the whole). Keys in key order; a \
            key that expires carries its deadline (JSON: deadline_ms, Unix time in ms; redis: SET … PXAT), \
            and a key already past it is left out.
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var localOptions: LocalOptions
    @Option(name: .long, help: "json or redis.") var format: DumpFormat = .json
    @Option(name: .long, help: "Only keys starting with this.") var prefix: String = ""
    @Flag(name: .long, help: "Print progress lines even when stderr is not a terminal.") var progress = false
    @Option(name: .long, help: "Write an RDB file (what redis-server starts from) instead: every database, from one snapshot of the map ('-': stdout).")
    var rdb: String?

    func validate() throws {
        if connection.json && format != .json && rdb == nil { throw ValidationError("--json is --format json; it cannot be combined with --format \(format.rawValue)") }
        if rdb != nil && !prefix.isEmpty { throw ValidationError("--rdb writes every key: it takes no --prefix") }
        if rdb == "-" && connection.json { throw ValidationError("--rdb - writes the file to stdout: it cannot be combined with --json") }
    }

    func run() async throws {
        if let rdb { return try dumpRDB(rdb) }
        var line = ProgressLine(forced: progress)
        var out = DumpWriter(format: format)
        var count = 0
        let emit = { (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, deadline: Int64?) in
            out.append(key: key, value: value, deadline: deadline)
            count += 1
            line.update("dump: \(count) keys")
        }
        var source = "\(connection.address)"
        if localOptions.isLocal {
            let store = try localOptions.open(for: connection, purpose: "dumping")
            source = store.directory
            do {
                try store.read { snapshot in
                    // Keys past their deadline are not listed; the others carry theirs.
                    try snapshot.forEach(prefix: Array(prefix.utf8)) { k, v in
                        emit(k, v, try snapshot.deadline(of: k))
                        return .proceed
                    }
                }
            } catch {
                Display.error("\(error)")
                throw ExitCode(ExitStatus.serverOrConnection)
            }
        } else {
            try await withClient(connection) { client in
                var page: [KeyValue] = []
                // Each page's deadlines in one pipeline of TTL requests; a key gone since is left out.
                func flush() throws(ShmKVError) {
                    let replies = try client.pipeline(page.map { .ttl(key: $0.key) })
                    for (entry, reply) in zip(page, replies) {
                        let ttl = try TimeToLive(reply: reply)
                        if ttl == .missing { continue }
                        var deadline: Int64?
                        if case .expires(let at, _) = ttl { deadline = at }
                        entry.key.withUnsafeBytes { k in entry.value.withUnsafeBytes { v in emit(k, v, deadline) } }
                    }
                    page.removeAll(keepingCapacity: true)
                }
                for try await entry in client.scan(prefix: Array(prefix.utf8)) {
                    page.append(entry)
                    if page.count == 1000 { try flush() }
                }
                try flush()
            }
        }
        out.flush()
        line.finish("dumped \(count) keys from \(source)")
    }
}

/// Buffers dump output and writes it to stdout in large pieces.
struct DumpWriter {
    let format: DumpFormat
    private var buffer: [UInt8] = []

    init(format: DumpFormat) { self.format = format }

    /// One entry; `deadline` (Unix time in ms) as `deadline_ms` in JSON, as `SET … PXAT` in redis form.
    mutating func append(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, deadline: Int64? = nil) {
        switch format {
        case .redis:
            RESPWriter.array(deadline == nil ? 3 : 5, into: &buffer)
            RESPWriter.bulk("SET", into: &buffer)
            RESPWriter.bulk(key, into: &buffer)
            RESPWriter.bulk(value, into: &buffer)
            if let deadline {
                RESPWriter.bulk("PXAT", into: &buffer)
                RESPWriter.bulk(String(deadline), into: &buffer)
            }
        case .json:
            var object: [String: Any] = ["key": Display.json(Array(key)), "value": Display.json(Array(value))]
            if let deadline { object["deadline_ms"] = deadline }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            buffer += data
            buffer.append(10)
        }
        if buffer.count >= 1 << 20 { flush() }
    }

    mutating func flush() {
        Display.writeRaw(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
