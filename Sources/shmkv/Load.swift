import ArgumentParser
import Foundation
import ShmKV
import Wire

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store keys from a dump (JSON lines, redis-cli --pipe input, or an RDB file with --rdb), streaming.",
        discussion: """
            JSON lines go in batches of --batch keys, each one atomic MPUT over the native protocol, then \
            the deadlines of those that have one (deadline_ms: EXPIRE at that time); a key whose deadline \
            has passed is left out. \
            Redis input is sent as it is over RESP, --batch commands per pipeline, as redis-cli --pipe \
            does, and may hold any command. A malformed line stops the load (what came before is stored); \
            error replies are counted and the first few printed. Exit 2 if anything failed.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The file to read ('-': stdin).") var file: String = "-"
    @Option(name: .long, help: "json or redis.") var format: DumpFormat = .json
    @Option(name: .long, help: "Keys per MPUT, or commands per pipeline.") var batch: Int = 1000
    @Flag(name: .long, help: "Print progress lines even when stderr is not a terminal.") var progress = false
    @Option(name: .long, help: "An RDB file (redis-server's dump.rdb) to load instead, as RESTOREs through the daemon; '-': stdin.")
    var rdb: String?
    @Option(name: .customLong("data-dir"), help: "With --rdb: the data directory to load into; when no daemon runs on it, one is started for the load.")
    var dataDir: String?

    func validate() throws {
        if !(1...100_000).contains(batch) { throw ValidationError("--batch must be 1 to 100000") }
        if rdb != nil && file != "-" { throw ValidationError("give the RDB file with --rdb alone") }
        if dataDir != nil && rdb == nil { throw ValidationError("--data-dir goes with --rdb") }
    }

    func run() async throws {
        if let rdb { return try loadRDB(rdb) }
        let fd = file == "-" ? 0 : open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ValidationError("cannot read \(file): \(String(cString: strerror(errno)))") }
        defer { if fd != 0 { close(fd) } }
        var line = ProgressLine(forced: progress)
        var input = ChunkReader(fd: fd)
        var loaded = 0
        var failures = 0
        var skipped = 0
        do {
            switch format {
            case .json: (loaded, skipped) = try loadJSON(&input, progress: &line)
            case .redis: (loaded, failures) = try loadRedis(&input, progress: &line)
            }
        } catch let error as ShmKVError {
            Display.error("\(error)")
            throw ExitCode(ExitStatus.serverOrConnection)
        } catch let error as LoadError {
            Display.error("\(error.message) (\(loaded) stored before it)")
            throw ExitCode(ExitStatus.serverOrConnection)
        }
        line.finish("loaded \(loaded) \(format == .json ? "keys" : "commands")\(failures > 0 ? ", \(failures) failed" : "")"
                    + "\(skipped > 0 ? ", left out \(skipped) whose deadline had passed" : "")")
        if connection.json {
            Display.printJSON(["format": format.rawValue, "loaded": loaded, "failed": failures, "expired_skipped": skipped])
        }
        if failures > 0 { throw ExitCode(ExitStatus.serverOrConnection) }
    }

    struct LoadError: Error { let message: String }

    /// Keys stored, and keys left out because their deadline had passed.
    private func loadJSON(_ input: inout ChunkReader, progress: inout ProgressLine) throws -> (Int, Int) {
        let client = try Client(address: connection.address, timeoutSeconds: connection.timeout, credentials: try connection.credentials())
        defer { client.close() }
        var pairs: [KeyValue] = []
        var deadlines: [Request] = []
        var loaded = 0
        var number = 0
        var skipped = 0
        // A batch is one atomic MPUT, then the deadlines of its keys that have one (EXPIRE at that Unix
        // time in ms), in one pipeline.
        func send() throws {
            try client.mput(pairs)
            for reply in try client.pipeline(deadlines) where reply.status != .ok {
                throw LoadError(message: "setting a deadline failed: \(reply.status)")
            }
            loaded += pairs.count
            pairs.removeAll(keepingCapacity: true)
            deadlines.removeAll(keepingCapacity: true)
            progress.update("load: \(loaded) keys")
        }
        while let text = try input.nextLine() {
            number += 1
            if text.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(text)) as? [String: Any],
                  let key = object["key"].flatMap(Load.bytes), let value = object["value"].flatMap(Load.bytes) else {
                throw LoadError(message: "line \(number): not a JSON object with a key and a value (text or {\"base64\": …})")
            }
            if let field = object["deadline_ms"] {
                guard let deadline = (field as? NSNumber).flatMap({ Int64(exactly: $0.doubleValue) }), deadline > 0 else {
                    throw LoadError(message: "line \(number): deadline_ms must be a Unix time in milliseconds")
                }
                // A key whose deadline has passed is not stored.
                if deadline <= Int64(Date().timeIntervalSince1970 * 1000) { skipped += 1; continue }
                deadlines.append(.expire(key: key, milliseconds: deadline, mode: .absolute))
            }
            pairs.append(KeyValue(key: key, value: value))
            if pairs.count == batch { try send() }
        }
        if !pairs.isEmpty { try send() }
        return (loaded, skipped)
    }

    /// A dump's string: text as UTF-8, or `{"base64": …}`.
    static func bytes(_ field: Any) -> [UInt8]? {
        if let text = field as? String { return Array(text.utf8) }
        if let encoded = (field as? [String: Any])?["base64"] as? String { return Data(base64Encoded: encoded).map(Array.init) }
        return nil
    }

    private func loadRedis(_ input: inout ChunkReader, progress: inout ProgressLine) throws -> (Int, Int) {
        let client = try RESPClient(address: connection.address, timeoutSeconds: connection.timeout, credentials: try connection.credentials())
        defer { client.close() }
        var commands: [[[UInt8]]] = []
        var sent = 0
        var failures = 0
        func send() throws {
            for reply in try client.pipeline(commands) {
                guard case .error(let message) = reply else { continue }
                failures += 1
                if failures <= 5 { Display.error("error reply: \(message)") }
            }
            sent += commands.count
            commands.removeAll(keepingCapacity: true)
            progress.update("load: \(sent) commands")
        }
        var ranges: [Range<Int>] = []
        var scratch: [UInt8] = []
        while true {
            let result = try input.unread.withUnsafeBytes { raw in
                try RESPDecoder.decode(raw, limits: RESPLimits(), arguments: &ranges, scratch: &scratch)
            }
            switch result {
            case .command(let consumed, let inline):
                let source = inline ? scratch : Array(input.unread.prefix(consumed))
                if !ranges.isEmpty { commands.append(ranges.map { Array(source[$0]) }) }
                input.consume(consumed)
                if commands.count == batch { try send() }
            case .needMore:
                if try !input.fill() {
                    if !input.unread.isEmpty { throw LoadError(message: "the input ends inside a command") }
                    if !commands.isEmpty { try send() }
                    return (sent, failures)
                }
            }
        }
    }
}

/// Reads a descriptor in 1 MiB pieces, handing out lines or the unread bytes.
struct ChunkReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init(fd: Int32) { self.fd = fd }

    /// The bytes read and not consumed.
    var unread: ArraySlice<UInt8> { buffer[start...] }

    mutating func consume(_ n: Int) { start += n }

    /// Reads more; false at end of input.
    mutating func fill() throws -> Bool {
        if atEnd { return false }
        if start > 0 { buffer.removeFirst(start); start = 0 }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { throw Load.LoadError(message: "read: \(String(cString: strerror(errno)))") }
        if n == 0 { atEnd = true; return false }
        buffer += chunk[..<n]
        return true
    }

    /// The next line without its newline; nil at the end.
    mutating func nextLine() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 10) {
                defer { start = newline + 1 }
                return buffer[start..<newline]
            }
            if try !fill() {
                guard start < buffer.count else { return nil }
                defer { start = buffer.count }
                return buffer[start...]
            }
        }
    }
}
