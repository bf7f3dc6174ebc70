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
            Reads the data directory directly (--data-dir, $SHMKV_DATA_DIR, the socket's directory, or \
            ./data) while the daemon goes on serving; the copy is one snapshot. DEST gets data.mdb, which \
            'shmkv restore', mdb_stat and py-lmdb open.
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var localOptions: LocalOptions
    @Argument(help: "The new (or empty) directory to write the copy to.") var destination: String
    @Flag(name: .long, help: "Leave out free pages: a smaller copy, more CPU.") var compact = false
    @Flag(name: .long, help: "Print progress lines even when stderr is not a terminal.") var progress = false

    func run() async throws {
        let store = try localOptions.open(for: connection.address)
        let expected = store.expectedBackupBytes
        var line = ProgressLine(forced: progress)
        do {
            let total = try store.backup(to: destination, compact: compact) { done in
                line.update("backup: \(ProgressLine.bytes(done)) of about \(ProgressLine.bytes(expected))")
            }
            line.finish("backed up \(ProgressLine.bytes(total)) to \(destination)")
        } catch {
            Display.error("\(error)")
            throw ExitCode(ExitStatus.serverOrConnection)
        }
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a backup in place as the data directory of a stopped daemon.",
        discussion: "Refuses while a daemon runs on DATA-DIR; replaces an existing store only with --replace.")
    @Argument(help: "A directory written by 'shmkv backup'.") var backup: String
    @Argument(help: "The data directory to restore into (created if missing).") var dataDirectory: String
    @Flag(name: .long, help: "Replace the store already in DATA-DIR.") var replace = false
    @Flag(name: .long, help: "Print progress lines even when stderr is not a terminal.") var progress = false

    func run() async throws {
        var line = ProgressLine(forced: progress)
        do {
            let total = try DataDirectory.restore(from: backup, into: dataDirectory, replace: replace) { done in
                line.update("restore: \(ProgressLine.bytes(done))")
            }
            line.finish("restored \(ProgressLine.bytes(total)) into \(dataDirectory)")
        } catch {
            Display.error("\(error)")
            throw ExitCode(ExitStatus.serverOrConnection)
        }
    }
}

/// How dump writes and load reads keys.
enum DumpFormat: String, ExpressibleByArgument, CaseIterable {
    /// One JSON object per line: {"key": K, "value": V}, each a string or {"base64": "…"}.
    case json
    /// RESP commands (SET key value), the input of `redis-cli --pipe`.
    case redis
}

struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write every key and value to stdout, streaming, as JSON lines or redis-cli --pipe input.",
        discussion: """
            With --local or --data-dir the keys come from one snapshot of the map (consistent); otherwise \
            through the daemon a page at a time (each page consistent, not the whole). Keys in key order.
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var localOptions: LocalOptions
    @Option(name: .long, help: "json or redis (default: json).") var format: DumpFormat = .json
    @Option(name: .long, help: "Only keys starting with this.") var prefix: String = ""
    @Flag(name: .long, help: "Print progress lines even when stderr is not a terminal.") var progress = false

    func run() async throws {
        var line = ProgressLine(forced: progress)
        var out = DumpWriter(format: format)
        var count = 0
        let emit = { (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) in
            out.append(key: key, value: value)
            count += 1
            line.update("dump: \(count) keys")
        }
        if localOptions.isLocal {
            let store = try localOptions.open(for: connection.address)
            do {
                try store.read { snapshot in
                    try snapshot.forEach(prefix: Array(prefix.utf8)) { k, v in emit(k, v); return .proceed }
                }
            } catch {
                Display.error("\(error)")
                throw ExitCode(ExitStatus.serverOrConnection)
            }
        } else {
            try await withClient(connection) { client in
                for try await entry in client.scan(prefix: Array(prefix.utf8)) {
                    entry.key.withUnsafeBytes { k in entry.value.withUnsafeBytes { v in emit(k, v) } }
                }
            }
        }
        out.flush()
        line.finish("dumped \(count) keys")
    }
}

/// Buffers dump output and writes it to stdout in large pieces.
struct DumpWriter {
    let format: DumpFormat
    private var buffer: [UInt8] = []

    init(format: DumpFormat) { self.format = format }

    mutating func append(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        switch format {
        case .redis:
            RESPWriter.array(3, into: &buffer)
            RESPWriter.bulk("SET", into: &buffer)
            RESPWriter.bulk(key, into: &buffer)
            RESPWriter.bulk(value, into: &buffer)
        case .json:
            let object: [String: Any] = ["key": Display.json(Array(key)), "value": Display.json(Array(value))]
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
