import ArgumentParser
import Foundation
import ShmKV

/// Moves connection options given before the subcommand to after it, then runs the command.
@main
enum Entry {
    static func main() async {
        await ShmKVCLI.main(CommandLine.reordered(Array(CommandLine.arguments.dropFirst())))
    }
}

struct ShmKVCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shmkv",
        abstract: "Talk to shmkvd: read and write keys from the shell.",
        discussion: """
            Exit status: 0 success; 1 key not found; 2 server or connection error; 64 usage error.
            Binary values are shown escaped (\\xNN); use --raw on get for the exact bytes.
            """,
        subcommands: [Ping.self, Get.self, Put.self, Del.self, MGet.self, Scan.self, Incr.self, TTL.self, Expire.self, Publish.self, Subscribe.self, Stats.self, Watch.self, Backup.self, Restore.self, Dump.self, Load.self, Bench.self, Raw.self],
        defaultSubcommand: Raw.self)
}

struct Ping: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check that the daemon answers.")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await withClient(connection) { client in
            try client.ping()
            if connection.json { Display.printJSON(["reply": "PONG"]) } else { print("PONG") }
        }
    }
}

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the value of a key (exit 1 if absent).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var localOptions: LocalOptions
    @Argument(help: "The key.") var key: String
    @Flag(name: .long, help: "Write the value's exact bytes, with no newline.") var raw = false

    func run() async throws {
        let value: [UInt8]?
        if localOptions.isLocal {
            let store = try localOptions.open(for: connection)
            do {
                value = try store.get(key)
                // Not a string: say what it is (`shmkv raw` reads every type through the daemon).
                if value == nil, let type = try store.type(of: Array(key.utf8)), type != .string {
                    Display.error("\(key) holds a \(type.name), not a string (read it with shmkv raw, e.g. HGETALL, SMEMBERS, ZRANGE … WITHSCORES)")
                    throw ExitCode(ExitStatus.serverOrConnection)
                }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                Display.error("\(error)")
                throw ExitCode(ExitStatus.serverOrConnection)
            }
        } else {
            value = try await withClient(connection) { try $0.get(key) }
        }
        if connection.json {
            Display.printJSON(["key": key, "value": value.map(Display.json) ?? NSNull()])
        } else if let value {
            if raw { Display.writeRaw(value) } else { print(Display.text(value)) }
        }
        if value == nil { throw ExitCode(ExitStatus.notFound) }
    }
}

struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store a value: as an argument, from --file, or from stdin with '-'.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value, or '-' to read it from stdin.") var value: String?
    @Option(name: .long, help: "Read the value from this file.") var file: String?
    @Flag(name: .long, help: "Only if the key is absent (exit 1 if it exists).") var nx = false
    @Flag(name: .long, help: "Only if the key is present (exit 1 if it does not).") var xx = false
    @Option(name: .long, help: "Time to live in seconds (decimals allowed); without it the key has none.") var ttl: Double?
    @Flag(name: .long, help: "Keep the deadline the key has (as SET … KEEPTTL).") var keepTTL = false

    func validate() throws {
        if (value == nil) == (file == nil) { throw ValidationError("give the value as an argument, '-', or --file (exactly one)") }
        if nx && xx { throw ValidationError("--nx and --xx exclude each other") }
        if ttl != nil && keepTTL { throw ValidationError("--ttl and --keep-ttl exclude each other") }
        if let ttl { _ = try milliseconds(seconds: ttl, option: "--ttl") }
    }

    func run() async throws {
        let bytes: [UInt8]
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            bytes = Array(data)
        } else if value == "-" {
            bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        } else {
            bytes = Array(value!.utf8)
        }
        let condition: PutCondition = nx ? .ifAbsent : xx ? .ifPresent : .always
        let expiry: PutExpiry = try ttl.map { .after(milliseconds: UInt64(try milliseconds(seconds: $0, option: "--ttl"))) }
            ?? (keepTTL ? .keep : .persistent)
        let stored = try await withClient(connection) { try $0.put(Array(key.utf8), bytes, condition: condition, expiry: expiry) }
        if connection.json { Display.printJSON(["key": key, "stored": stored]) } else { print(stored ? "OK" : "NOT STORED") }
        if !stored { throw ExitCode(ExitStatus.notFound) }
    }
}

struct Del: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a key; prints 1 if it existed, 0 (exit 1) if not.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The key.") var key: String

    func run() async throws {
        let existed = try await withClient(connection) { try $0.delete(key) }
        if connection.json { Display.printJSON(["key": key, "deleted": existed]) } else { print(existed ? "1" : "0") }
        if !existed { throw ExitCode(ExitStatus.notFound) }
    }
}

struct MGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mget", abstract: "Print the values of several keys from one snapshot, (nil) where absent.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The keys.") var keys: [String]

    func validate() throws { if keys.isEmpty { throw ValidationError("give at least one key") } }

    func run() async throws {
        let values = try await withClient(connection) { try $0.mget(keys.map { Array($0.utf8) }) }
        if connection.json {
            Display.printJSON(zip(keys, values).map { ["key": $0, "value": $1.map(Display.json) ?? NSNull()] as [String: Any] })
        } else {
            for value in values { print(value.map(Display.text) ?? "(nil)") }
        }
    }
}

struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List keys and values by prefix or range, one 'key<TAB>value' per line.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var localOptions: LocalOptions
    @Option(name: .long, help: "Keys starting with this (default: all keys).") var prefix: String?
    @Option(name: .long, help: "Range start, inclusive (instead of --prefix).") var from: String?
    @Option(name: .long, help: "Range end, exclusive (with --from; default: no end).") var to: String?
    @Option(name: .long, help: "At most this many entries (default: all).") var limit: Int?
    @Flag(name: .long, help: "Print keys only.") var keysOnly = false

    func validate() throws {
        if prefix != nil && (from != nil || to != nil) { throw ValidationError("use either --prefix or --from/--to") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        var count = 0
        var collected: [[String: Any]] = []
        let show = { (entry: KeyValue) in
            count += 1
            if connection.json {
                var object: [String: Any] = ["key": Display.json(entry.key)]
                if !keysOnly { object["value"] = Display.json(entry.value) }
                collected.append(object)
            } else if keysOnly {
                print(Display.text(entry.key))
            } else {
                print("\(Display.text(entry.key))\t\(Display.text(entry.value))")
            }
        }
        if localOptions.isLocal {
            // One snapshot, read in place: the whole listing is consistent.
            let store = try localOptions.open(for: connection)
            do {
                let entries = from != nil || to != nil
                    ? try store.scan(from: Array((from ?? "").utf8), to: to.map { Array($0.utf8) }, limit: limit ?? 0)
                    : try store.scan(prefix: Array((prefix ?? "").utf8), limit: limit ?? 0)
                entries.forEach(show)
            } catch {
                Display.error("\(error)")
                throw ExitCode(ExitStatus.serverOrConnection)
            }
        } else {
            try await withClient(connection) { client in
                let sequence = from != nil || to != nil
                    ? client.scan(from: Array((from ?? "").utf8), to: to.map { Array($0.utf8) })
                    : client.scan(prefix: Array((prefix ?? "").utf8))
                for try await entry in sequence {
                    if let limit, count >= limit { break }
                    show(entry)
                }
            }
        }
        if connection.json { Display.printJSON(collected) }
    }
}

struct Incr: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Add to the integer under a key (absent: 0) and print the result.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The key.") var key: String
    @Option(name: .long, help: "The amount (may be negative).") var by: Int64 = 1

    func run() async throws {
        let n = try await withClient(connection) { try $0.incr(Array(key.utf8), by: by) }
        if connection.json { Display.printJSON(["key": key, "value": n]) } else { print(n) }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the daemon's counters, one 'name value' per line (--json: every value as a number).")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let stats = try await withClient(connection) { try $0.stats() }
        if connection.json {
            Display.printJSON(Dictionary(uniqueKeysWithValues: stats.map { ($0.name, $0.value) }))
        } else {
            let width = stats.map(\.name.count).max() ?? 0
            for s in stats { print(s.name + String(repeating: " ", count: width - s.name.count + 1) + s.readableValue) }
        }
    }
}
