import Posix
import RDB
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Keys counted per numbered database and type name (`string`, `list`, `set`, `zset`, `hash`): what a
/// load stored or a dump wrote.
public struct RDBKeyCounts: Sendable, Equatable, CustomStringConvertible {
    public private(set) var byDatabase: [Int: [String: Int]] = [:]

    public init() {}

    public mutating func add(database: Int, type: String) { byDatabase[database, default: [:]][type, default: 0] += 1 }

    /// Keys in all.
    public var total: Int { byDatabase.values.reduce(0) { $0 + $1.values.reduce(0, +) } }

    /// "db 0: 1 hash, 101 string; db 2: 1 set".
    public var description: String {
        byDatabase.sorted { $0.key < $1.key }.map { db, types in
            "db \(db): " + types.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        }.joined(separator: "; ")
    }
}

/// What loading an RDB file did.
public struct RDBLoadSummary: Sendable, Equatable {
    /// Keys stored.
    public var keys = RDBKeyCounts()
    /// Keys left out because their deadline had passed.
    public var expired = 0
    /// Keys in a form this codec does not read (streams, module values, hashes with field TTLs), and
    /// module AUX data (key empty, `what` names the module).
    public var refused: [RDBRefusal] = []
    /// Function libraries loaded (FUNCTION LOAD REPLACE).
    public var functions = 0
    /// RESTOREs the daemon refused, and the first few of its replies.
    public var failed = 0
    public var failures: [String] = []
    /// File bytes read so far.
    public var bytes = 0
}

/// Why a load stopped: the file's offset and why, with what had been stored before it.
public struct RDBLoadError: Error, CustomStringConvertible {
    public let summary: RDBLoadSummary
    public let reason: String
    public var description: String { reason }
}

/// Loads an RDB file into a daemon through its ordinary write path: each key a `RESTORE key deadline
/// payload REPLACE ABSTTL` (its value re-encoded as a DUMP payload), `batch` commands per pipeline,
/// SELECT before each database, FUNCTION LOAD REPLACE for each library. The file is read piece by piece
/// (bounded memory). Keys already present are replaced; keys whose deadline has passed are left out.
/// While the daemon stores one batch the next is decoded (batches up to 2,000: their replies fit the
/// socket's buffers meanwhile; a larger batch waits for its replies before the next is sent).
public struct RDBLoader {
    private let client: RESPClient
    private let batch: Int
    private var commands: [[[UInt8]]] = []
    private var pending: [(key: [UInt8], database: Int, type: String)] = []
    private var inFlight: [(key: [UInt8], database: Int, type: String)] = []
    public private(set) var summary = RDBLoadSummary()

    public init(client: RESPClient, batch: Int = 1000) {
        self.client = client
        self.batch = max(1, batch)
    }

    /// Reads the file from `fd` to its end; `progress` is called after each batch.
    public mutating func load(fd: Int32, progress: (RDBLoadSummary) -> Void = { _ in }) throws -> RDBLoadSummary {
        var decoder = RDBFileDecoder()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        let now = Int64(WallClock.milliseconds())
        do {
            while true {
                while let record = try decoder.next() {
                    summary.bytes = decoder.offset
                    switch record {
                    case .selectDatabase(let n):
                        try flush(progress)
                        let reply = try client.command([Array("SELECT".utf8), Array(String(n).utf8)])
                        if case .error(let message) = reply { throw RDBLoadError(summary: summary, reason: "the file holds database \(n), which the daemon refuses: \(message)") }
                    case .key(let entry):
                        if let at = entry.expiresAt, at <= now {
                            summary.expired += 1
                            continue
                        }
                        var writer = RDBWriter()
                        writer.value(entry.value)
                        commands.append([Array("RESTORE".utf8), entry.key, Array(String(entry.expiresAt ?? 0).utf8),
                                         DumpPayload.seal(writer.bytes), Array("REPLACE".utf8), Array("ABSTTL".utf8)])
                        pending.append((entry.key, entry.database, entry.value.typeName))
                        if commands.count >= batch { try flush(progress, drain: batch > 2000) }
                    case .function(let code):
                        try flush(progress)
                        let reply = try client.command([Array("FUNCTION".utf8), Array("LOAD".utf8), Array("REPLACE".utf8), code])
                        if case .error(let message) = reply { note("FUNCTION LOAD: \(message)") } else { summary.functions += 1 }
                    case .refused(let refusal):
                        summary.refused.append(refusal)
                    case .moduleAux(let name):
                        summary.refused.append(RDBRefusal(database: -1, key: [], what: "AUX data of module '\(name)'", offset: decoder.offset))
                    case .aux, .resizeDatabase, .end:
                        break
                    }
                }
                if decoder.isComplete { break }
                if let piece = try RDBFile.read(fd, into: &chunk, summary: summary) { decoder.append(piece) } else { decoder.finish() }
            }
            try flush(progress)
        } catch let error as RDBError {
            // What came before the damage is stored; nothing after it.
            try? flush(progress)
            throw RDBLoadError(summary: summary, reason: error.description)
        } catch let error as ShmKVError {
            throw RDBLoadError(summary: summary, reason: "\(error)")
        }
        return summary
    }

    /// Sends the batch built so far, then reads the replies to the batch before it (one batch in flight:
    /// the daemon works on it while the next is decoded); `drain` reads this one's too.
    private mutating func flush(_ progress: (RDBLoadSummary) -> Void, drain: Bool = true) throws(ShmKVError) {
        if !commands.isEmpty {
            try client.send(commands)
            commands.removeAll(keepingCapacity: true)
        }
        try account(inFlight, progress)
        inFlight = pending
        pending.removeAll(keepingCapacity: true)
        if drain {
            try account(inFlight, progress)
            inFlight.removeAll()
        }
    }

    private mutating func account(_ batch: [(key: [UInt8], database: Int, type: String)], _ progress: (RDBLoadSummary) -> Void) throws(ShmKVError) {
        guard !batch.isEmpty else { return }
        let replies = try client.receive(batch.count)
        for (reply, key) in zip(replies, batch) {
            guard case .error(let message) = reply else {
                summary.keys.add(database: key.database, type: key.type)
                continue
            }
            summary.failed += 1
            note("RESTORE \(String(decoding: key.key, as: UTF8.self).debugDescription): \(message)")
        }
        progress(summary)
    }

    private mutating func note(_ failure: String) {
        if summary.failures.count < 10 { summary.failures.append(failure) }
    }
}

extension RDBValue {
    /// TYPE's name for it.
    public var typeName: String {
        switch self {
        case .string: "string"
        case .list: "list"
        case .set: "set"
        case .sortedSet: "zset"
        case .hash: "hash"
        case .stream: "stream"
        }
    }
}

/// Whole-file checks of an RDB file.
public enum RDBFile {
    /// Reads `fd` to its end: nil when the file's checksum holds (or it has none), else the error.
    public static func verify(fd: Int32) throws(RDBLoadError) -> RDBError? {
        var checksum = RDBFileChecksum()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while let piece = try read(fd, into: &chunk, summary: RDBLoadSummary()) { checksum.append(piece) }
        return checksum.verify()
    }

    /// The next piece of `fd` read into `chunk`, or nil at its end; a failed read is an error carrying
    /// `summary` (what was stored before it).
    static func read(_ fd: Int32, into chunk: inout [UInt8], summary: RDBLoadSummary) throws(RDBLoadError) -> ArraySlice<UInt8>? {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 { throw RDBLoadError(summary: summary, reason: "read: \(String(cString: strerror(errno)))") }
        return n == 0 ? nil : chunk[..<n]
    }
}
