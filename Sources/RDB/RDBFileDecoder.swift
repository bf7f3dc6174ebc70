/// A key and its value as an RDB file holds it.
public struct RDBKey: Equatable, Sendable {
    /// The numbered database (the last SELECTDB before it; 0 when none came).
    public let database: Int
    public let key: [UInt8]
    public let value: RDBValue
    /// The deadline, Unix time in milliseconds (nil: none).
    public let expiresAt: Int64?
}

/// A key the file holds in a form this codec does not read or ShmKV does not keep (a stream with
/// consumer groups, a module's value, a hash with field TTLs): named and counted, and stepped over.
public struct RDBRefusal: Equatable, Sendable {
    public let database: Int
    public let key: [UInt8]
    /// What it was: "a stream with consumer groups", "a value of module type 'ReJSON-RL'".
    public let what: String
    /// Where its record starts in the file.
    public let offset: Int

    public init(database: Int, key: [UInt8], what: String, offset: Int) {
        self.database = database
        self.key = key
        self.what = what
        self.offset = offset
    }
}

/// What an RDB file holds, record by record, in the file's order.
public enum RDBRecord: Equatable, Sendable {
    /// An AUX field (redis-ver, ctime, repl-id, …).
    case aux(key: [UInt8], value: [UInt8])
    /// SELECTDB: the keys that follow belong to numbered database `n`.
    case selectDatabase(Int)
    /// RESIZEDB: how many keys (and how many with a deadline) the current database holds.
    case resizeDatabase(keys: UInt64, expires: UInt64)
    /// FUNCTION2: a function library's source.
    case function(code: [UInt8])
    case key(RDBKey)
    case refused(RDBRefusal)
    /// Module AUX data, stepped over (the module's name).
    case moduleAux(String)
    /// EOF: the file's end, its checksum verified (nil: the file carries none, rdbchecksum no).
    case end(checksum: UInt64?)
}

/// Reads an RDB file piece by piece, in bounded memory however large the file: `append` what was
/// read, then take `next()` records until it answers nil (it needs more), and `finish()` when the
/// input ends. It holds at most one record's bytes plus the latest piece; a record larger than
/// `maximumRecordBytes` is an error, as is anything malformed, always naming the file offset.
/// Versions 1 to 12 (Redis up to 7.4, Valkey 7.2 and 8) are read; after EOF and its checksum,
/// whatever follows is left in `remaining` (a replication stream goes on with commands).
public struct RDBFileDecoder {
    /// The file's RDB version, once its header has been read.
    public private(set) var version: Int?
    /// The file offset up to which records have been taken.
    public var offset: Int { base + start }
    /// Whether EOF and its checksum have been read.
    public private(set) var isComplete = false
    public let maximumRecordBytes: Int

    private var buffer: [UInt8] = []
    private var start = 0      // where the next record begins in `buffer`
    private var base = 0       // the file offset of buffer[0]
    private var retryAt = 0    // bytes held (from `start`) before an incomplete record is tried again
    private var finished = false
    private var crc: UInt64 = 0
    private var database = 0

    public init(maximumRecordBytes: Int = 1 << 30) {
        self.maximumRecordBytes = maximumRecordBytes
    }

    /// More of the file.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            base += start
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The input has ended: a record still incomplete is now an error.
    public mutating func finish() { finished = true }

    /// The bytes after the file's end (valid once `isComplete`).
    public var remaining: ArraySlice<UInt8> { buffer[start...] }

    /// The next record, or nil when more input is needed (or the file has ended).
    public mutating func next() throws(RDBError) -> RDBRecord? {
        if isComplete { return nil }
        let held = buffer.count - start
        if !finished && held < retryAt { return nil }
        var reader = RDBReader(buffer, from: start, to: nil, partial: !finished)
        reader.lengthLimit = maximumRecordBytes
        let record: RDBRecord?
        do throws(RDBError) {
            record = try version == nil ? header(&reader) : self.record(&reader)
        } catch let error where error.truncated && !finished {
            guard held < maximumRecordBytes else {
                throw RDBError(offset: offset, reason: "a record larger than the limit of \(maximumRecordBytes) bytes")
            }
            retryAt = max(held + 1, held * 2)  // amortized: a large record is parsed O(1) times per byte
            return nil
        } catch {
            throw error.shifted(by: base)
        }
        var isEnd = false
        if case .end = record { isEnd = true }
        take(through: reader.offset, checksummed: !isEnd)
        retryAt = 0
        if let record { return record }
        return try next()
    }

    /// Consumes `buffer[start..<end]`, adding it to the checksum unless it is EOF's record (whose
    /// checksum covers its opcode alone).
    private mutating func take(through end: Int, checksummed: Bool) {
        if checksummed { crc = CRC64.checksum(buffer[start..<end], continuing: crc) }
        start = end
    }

    /// "REDIS" and four digits; nil (no record) once read.
    private mutating func header(_ reader: inout RDBReader) throws(RDBError) -> RDBRecord? {
        let magic = try reader.take(9)
        guard magic.prefix(5).elementsEqual("REDIS".utf8) else { throw RDBError(offset: reader.offset - 9, reason: "not an RDB file (no REDIS header)") }
        guard let number = Int(String(decoding: magic.suffix(4), as: UTF8.self)), (1...12).contains(number) else {
            throw RDBError(offset: reader.offset - 4, reason: "RDB version \(String(decoding: magic.suffix(4), as: UTF8.self)) is not one this reads (1 to 12)")
        }
        version = number
        return nil
    }

    /// One record, with the expiry, FREQ, IDLE and SLOT_INFO opcodes before it. Nothing is changed
    /// unless the whole record could be read.
    private mutating func record(_ reader: inout RDBReader) throws(RDBError) -> RDBRecord? {
        var expiresAt: Int64?
        while true {
            let at = reader.offset
            let opcode = try reader.byte()
            switch opcode {
            case 0xFF:
                let total = CRC64.checksum(CollectionOfOne(opcode), continuing: crc)
                let stored = version! >= 5 ? try reader.littleEndian(8) : 0
                if stored != 0 && stored != total {
                    throw RDBError(offset: at + 1, reason: "the checksum is wrong (file says \(hex(stored)), data gives \(hex(total)))")
                }
                crc = total
                isComplete = true
                return .end(checksum: stored == 0 ? nil : stored)
            case 0xFE:
                let n = try reader.length().value
                guard n <= UInt64(Int32.max) else { throw RDBError(offset: at, reason: "SELECTDB \(n) is out of range") }
                database = Int(n)
                return .selectDatabase(database)
            case 0xFD: expiresAt = Int64(try reader.littleEndian(4)) * 1000
            case 0xFC: expiresAt = Int64(bitPattern: try reader.littleEndian(8))
            case 0xFB: return .resizeDatabase(keys: try reader.length().value, expires: try reader.length().value)
            case 0xFA: return .aux(key: try reader.string(), value: try reader.string())
            case 0xF9: _ = try reader.byte()            // FREQ: LFU counter
            case 0xF8: _ = try reader.length()          // IDLE: LRU idle seconds
            case 0xF7: return .moduleAux(try reader.skipModuleAux())
            case 0xF6: throw RDBError(offset: at, reason: "functions in Redis 7.0's pre-release format are not read")
            case 0xF5: return .function(code: try reader.string())
            case 0xF4: for _ in 0..<3 { _ = try reader.length() }  // SLOT_INFO: a sizing hint
            case let type where RDBType.isValue(type):
                let key = try reader.string()
                if RDBType.unsupportedName(type) != nil {
                    return .refused(RDBRefusal(database: database, key: key, what: try reader.skipValue(ofType: type), offset: base + at))
                }
                let value: RDBValue
                do { value = try reader.value(ofType: type) } catch let error as RDBError { throw error } catch {
                    throw RDBError(offset: at, reason: "\(error)")
                }
                if case .stream(let stream) = value, stream.consumerGroups > 0 {
                    return .refused(RDBRefusal(database: database, key: key, what: "a stream with consumer groups", offset: base + at))
                }
                return .key(RDBKey(database: database, key: key, value: value, expiresAt: expiresAt))
            default:
                throw RDBError(offset: at, reason: "unknown record type \(opcode)")
            }
        }
    }

    private func hex(_ n: UInt64) -> String { "0x" + String(n, radix: 16) }
}
