import RDB
import StoreLayout
import StoreRDB

/// DUMP and RESTORE with Redis's payload (an RDB value, its RDB version, a CRC64): a DUMP from
/// redis-server RESTOREs here and the other way round.
enum DumpCommands {
    /// DUMP key: the value in the encoding Redis would hold it in by the current thresholds.
    static func dump(_ c: CommandCall) throws {
        let key = c.args[1]
        let value: RDBValue
        switch try c.keys.type(of: key) {
        case nil: return c.reply.null()
        case .string?: value = .string(try c.keys.withValue(key) { Array($0!) })
        case .some: value = try c.keys.withCollection(key) { try RDBValue($0!) }
        }
        var writer = RDBWriter()
        writer.value(value, limits: c.context.batcher.collectionLimits.withLock { $0.encodingLimits })
        c.reply.bulk(DumpPayload.seal(writer.bytes))
    }

    /// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]. The
    /// options are checked here, in Redis's order; the rest (BUSYKEY first, then the TTL, then the
    /// payload) by the writer, which sees the key.
    static func restore(_ c: WriteCall) -> WritePlan {
        let args = c.args
        var i = 4, idle = false, frequency = false
        while i < args.count {
            let more = i + 1 < args.count
            if args.is(i, "REPLACE") || args.is(i, "ABSTTL") {
            } else if args.is(i, "IDLETIME") && more && !frequency {
                guard let n = args.integer(i + 1) else { return .error(.notInteger) }
                if n < 0 { return .error("ERR Invalid IDLETIME value, must be >= 0") }
                idle = true
                i += 1
            } else if args.is(i, "FREQ") && more && !idle {
                guard let n = args.integer(i + 1) else { return .error(.notInteger) }
                if n < 0 || n > 255 { return .error("ERR Invalid FREQ value, must be >= 0 and <= 255") }
                frequency = true
                i += 1
            } else {
                return .error(.syntax)
            }
            i += 1
        }
        if let problem = c.keyProblem(1) { return .error(problem) }
        // The records it may write: one per element (an unreadable payload writes none).
        let value = try? DumpPayload.value(of: Array(args[3]))
        if let largest = value?.largestElement, largest > c.context.configuration.maxValueSize {
            return .error("ERR value of \(largest) bytes exceeds the maximum of \(c.context.configuration.maxValueSize) bytes")
        }
        return .command(applyRestore, records: (value?.elementCount ?? 0) + 2)
    }

    private static func applyRestore(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        var replace = false, absolute = false
        for i in 4..<args.count {
            if args.is(i, "REPLACE") { replace = true } else if args.is(i, "ABSTTL") { absolute = true }
        }
        let key = args[1]
        if !replace, try keys.exists(key) { return .error("BUSYKEY Target key name already exists.") }
        guard let ttl = args.integer(2) else { return .error(RESPError.notInteger.message) }
        guard ttl >= 0 else { return .error("ERR Invalid TTL value, must be >= 0") }
        let payload = Array(args[3])
        guard let (end, _) = DumpPayload.open(payload) else { return .error("ERR DUMP payload version or checksum are wrong") }
        guard let value = try? DumpPayload.value(of: payload, bodyEnd: end) else { return .error("ERR Bad data format") }
        if case .stream(let stream) = value, stream.consumerGroups > 0 {
            return .error("ERR a stream with consumer groups cannot be restored: ShmKV's streams have none")
        }
        guard value.isWellFormed else { return .error("ERR Bad data format") }
        let deadline: Int64? = ttl == 0 ? nil : absolute ? ttl : ttl.addingReportingOverflow(keys.now).partialValue
        if let deadline, deadline <= keys.now {
            // Already expired: nothing is stored, and what REPLACE would have replaced is deleted.
            if replace { _ = try keys.delete(key) }
            return .status("OK")
        }
        try keys.restore(key, value, deadline: deadline)
        return .status("OK")
    }
}

extension RDBValue {
    /// Its elements (1 for a string): the records it may take.
    var elementCount: Int {
        switch self {
        case .string: 1
        case .list(let items): items.count
        case .set(let members): members.count
        case .sortedSet(let members): members.count
        case .hash(let pairs): pairs.count
        case .stream(let stream): stream.entries.count + 1
        }
    }

    /// Its largest string (the value of a string, an element of a collection): ShmKV holds none over
    /// `max-value-size`.
    var largestElement: Int {
        switch self {
        case .string(let bytes): bytes.count
        case .list(let items), .set(let items): items.lazy.map(\.count).max() ?? 0
        case .sortedSet(let members): members.lazy.map(\.member.count).max() ?? 0
        case .hash(let pairs): pairs.lazy.map { max($0.field.count, $0.value.count) }.max() ?? 0
        case .stream(let stream): stream.entries.lazy.flatMap(\.fields).map(\.count).max() ?? 0
        }
    }

    /// Whether Redis would load it: no empty collection but a stream, no NaN score, a stream's entries
    /// in order, none past its last id, each with fields and values.
    var isWellFormed: Bool {
        switch self {
        case .string: true
        case .list(let items), .set(let items): !items.isEmpty
        case .sortedSet(let members): !members.isEmpty && !members.contains { $0.score.isNaN }
        case .hash(let pairs): !pairs.isEmpty
        case .stream(let stream): stream.isWellFormed
        }
    }
}

extension RDBStream {
    /// Entries in ascending id order, none after the last id, each with fields and values in pairs.
    var isWellFormed: Bool {
        guard entries.last.map({ $0.id <= lastID }) ?? true else { return false }
        return zip(entries, entries.dropFirst()).allSatisfy { $0.id < $1.id }
            && entries.allSatisfy { !$0.fields.isEmpty && $0.fields.count % 2 == 0 }
    }
}

extension CollectionLimits {
    /// The thresholds as the RDB writer takes them (a list limited by entries gets Redis's 8 KiB nodes).
    var encodingLimits: EncodingLimits {
        var limits = EncodingLimits()
        limits.listpackEntries = hashMaxListpackEntries
        limits.listpackValue = hashMaxListpackValue
        limits.sortedSetListpackEntries = zsetMaxListpackEntries
        limits.sortedSetListpackValue = zsetMaxListpackValue
        limits.intsetEntries = setMaxIntsetEntries
        if (-5 ... -1).contains(listMaxListpackSize) { limits.listNodeBytes = 4096 << (-listMaxListpackSize - 1) }
        return limits
    }
}

extension KeyspaceWriter {
    /// Stores `value` under `key` (absent now) as a new key with `deadline`: RESTORE's write, and what
    /// `shmkv load --rdb` sends. One `restore` event.
    mutating func restore(_ key: UnsafeRawBufferPointer, _ value: RDBValue, deadline: Int64?) throws {
        switch value {
        case .string(let bytes):
            let existed = try removeForReplacement(key)
            try bytes.withUnsafeBytes {
                try store(key, $0, existed: existed, deadline: deadline.map { .at($0) } ?? .remove, event: .restore, announceDeadline: false)
            }
            return
        case .list(let items):
            var list = try replaceList(key)
            try space?.spend(items.count)
            for item in items { try item.withUnsafeBytes { try list.push($0, head: false) } }
            try save(&list, event: .restore)
        case .set(let members):
            var set = try replace(key, with: .set)
            try space?.spend(members.count)
            for member in members { _ = try member.withUnsafeBytes { try set.addMember($0) } }
            try save(&set, event: .restore)
        case .sortedSet(let members):
            var zset = try replace(key, with: .zset)
            try space?.spend(members.count)
            for member in members { _ = try member.member.withUnsafeBytes { try zset.setScore($0, member.score) } }
            try save(&zset, event: .restore)
        case .hash(let pairs):
            var hash = try replace(key, with: .hash)
            try space?.spend(pairs.count)
            for pair in pairs { _ = try pair.field.withUnsafeBytes { f in try pair.value.withUnsafeBytes { try hash.setField(f, $0) } } }
            try save(&hash, event: .restore)
        case .stream(let stream):
            let existed = try removeForReplacement(key)
            var list = newList(key, as: .stream)
            list.existed = existed
            try space?.spend(stream.entries.count + 1)
            try StreamID(stream.lastID).bytes.withUnsafeBytes { try list.push($0, head: false) }
            for entry in stream.entries {
                var item = StreamID(entry.id).bytes
                for field in entry.fields { field.withUnsafeBytes { PackedItems.append($0, to: &item) } }
                try item.withUnsafeBytes { try list.push($0, head: false) }
            }
            try save(&list, event: .restore)
        }
        if let deadline { try setDeadline(key, deadline) }
    }
}
