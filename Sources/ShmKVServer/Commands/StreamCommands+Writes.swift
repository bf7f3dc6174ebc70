import LMDB
import NotifyRing
import StoreLayout
import Wire

/// XADD, XTRIM and XDEL (see `StreamCommands`).
extension StreamCommands {
    /// How XADD or XTRIM trims: MAXLEN or MINID, exact or `~` (whole nodes of `nodeEntries`), with a LIMIT.
    struct Trim {
        var maxLength: Int64? = nil
        var minID: StreamID? = nil
        var approximate = false
        var limit: Int64 = 0
    }

    /// Redis's stream-node-max-entries: `~` trims only whole nodes of this many entries.
    static let nodeEntries = 100

    struct AddOptions {
        var trim = Trim()
        var noMakeStream = false
        /// nil: `*`; else the id and whether its sequence was given (`ms-*` leaves it to XADD).
        var id: (StreamID, sequenceGiven: Bool)? = nil
        var fieldsAt = 0
    }

    /// Redis's `streamParseAddOrTrimArgsOrReply` for XADD (`adding`) and XTRIM.
    static func parse(_ args: RESPArguments, adding: Bool) -> Result<AddOptions, RESPError> {
        var o = AddOptions()
        var limitGiven = false, strategy = false
        var i = 2
        while i < args.count {
            let more = args.count - 1 - i
            if adding && args[i].elementsEqual("*".utf8) { break }
            if (args.is(i, "MAXLEN") || args.is(i, "MINID")) && more > 0 {
                if strategy { return .failure(RESPError(message: "ERR syntax error, MAXLEN and MINID options at the same time are not compatible")) }
                let maxlen = args.is(i, "MAXLEN")
                o.trim.approximate = false
                if more >= 2 && args[i + 1].elementsEqual("~".utf8) { o.trim.approximate = true; i += 1 }
                else if more >= 2 && args[i + 1].elementsEqual("=".utf8) { i += 1 }
                if maxlen {
                    guard let n = args.integer(i + 1) else { return .failure(.notInteger) }
                    guard n >= 0 else { return .failure(RESPError(message: "ERR The MAXLEN argument must be >= 0.")) }
                    o.trim.maxLength = n
                } else {
                    guard let id = StreamID(args[i + 1], missingSeq: 0) else { return .failure(RESPError(message: invalidID)) }
                    o.trim.minID = id
                }
                strategy = true
                i += 2
            } else if args.is(i, "LIMIT") && more > 0 {
                guard let n = args.integer(i + 1) else { return .failure(.notInteger) }
                guard n >= 0 else { return .failure(RESPError(message: "ERR The LIMIT argument must be >= 0.")) }
                o.trim.limit = n
                limitGiven = true
                i += 2
            } else if adding && args.is(i, "NOMKSTREAM") {
                o.noMakeStream = true
                i += 1
            } else if adding {
                let text = args[i]
                if text.count > 2, text[text.count - 1] == UInt8(ascii: "*"), text[text.count - 2] == UInt8(ascii: "-"),
                   let id = StreamID(UnsafeRawBufferPointer(rebasing: text[..<(text.count - 2)]), missingSeq: 0),
                   !UnsafeRawBufferPointer(rebasing: text[..<(text.count - 2)]).contains(UInt8(ascii: "-")) {
                    o.id = (id, false)
                } else {
                    guard let id = StreamID(text, missingSeq: 0) else { return .failure(RESPError(message: invalidID)) }
                    o.id = (id, true)
                }
                break
            } else {
                return .failure(.syntax)
            }
        }
        if limitGiven && !strategy { return .failure(RESPError(message: "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")) }
        if !adding && !strategy { return .failure(RESPError(message: "ERR syntax error, XTRIM must be called with a trimming strategy")) }
        if limitGiven && !o.trim.approximate { return .failure(RESPError(message: "ERR syntax error, LIMIT cannot be used without the special ~ option")) }
        if !limitGiven && o.trim.approximate { o.trim.limit = Int64(100 * nodeEntries) }
        o.fieldsAt = i + 1
        return .success(o)
    }

    static func xadd(_ c: WriteCall) -> WritePlan {
        let options: AddOptions
        switch parse(c.args, adding: true) {
        case .failure(let error): return .error(error)
        case .success(let o): options = o
        }
        let fields = c.args.count - options.fieldsAt
        guard fields >= 2, fields % 2 == 0 else { return .error(.wrongArity("xadd")) }
        if let (id, given) = options.id, given, id == .min { return .error(RESPError(message: "ERR The ID specified in XADD must be greater than 0-0")) }
        if let problem = c.keyProblem(1) ?? (options.fieldsAt..<c.args.count).lazy.compactMap(c.valueProblem).first { return .error(problem) }
        return .command(applyAdd, records: 8)
    }

    private static func applyAdd(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        guard case .success(let options) = parse(args, adding: true) else { return .error(RESPError.syntax.message) }
        var stream: ListEdit
        if let existing = try keys.editList(args[1], as: .stream) {
            stream = existing
        } else {
            if options.noMakeStream { return .null }
            stream = keys.newList(args[1], as: .stream)
            try StreamID.min.bytes.withUnsafeBytes { try stream.push($0, head: false) }
        }
        guard let last = try stream.item(at: 0).withUnsafeBytes({ StreamID(stored: $0) }) else { throw DamagedRecord("a stream without its last id") }
        if last == .max { return .error("ERR The stream has exhausted the last possible ID, unable to add more items") }
        let id: StreamID
        let smaller = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
        switch options.id {
        case nil:
            let now = UInt64(max(keys.now, 0))
            id = now > last.ms ? StreamID(ms: now, seq: 0) : last.seq == .max ? StreamID(ms: last.ms + 1, seq: 0) : StreamID(ms: last.ms, seq: last.seq + 1)
        case .some((let given, true)):
            guard given > last else { return .error(smaller) }
            id = given
        case .some((let given, false)):
            if given.ms == last.ms {
                guard last.seq != .max else { return .error(smaller) }
                id = StreamID(ms: given.ms, seq: last.seq + 1)
            } else {
                guard given.ms > last.ms else { return .error(smaller) }
                id = StreamID(ms: given.ms, seq: 0)
            }
        }
        var entry = id.bytes
        for i in options.fieldsAt..<args.count { PackedItems.append(args[i], to: &entry) }
        try entry.withUnsafeBytes { try stream.push($0, head: false) }
        try id.bytes.withUnsafeBytes { try stream.set(at: 0, $0) }
        let trimmed = try trim(&stream, options.trim)
        try keys.save(&stream, event: .xadd)
        if trimmed > 0 { keys.changes.append(kind: .put, event: .xtrim, key: args[1], origin: keys.origin) }
        return .bulk(id.text)
    }

    /// Removes the entries the trim asks for from the head; how many.
    static func trim(_ stream: inout ListEdit, _ trim: Trim) throws -> Int {
        let entries = stream.count - 1
        var doomed = 0
        if let maxLength = trim.maxLength {
            doomed = max(entries - Int(clamping: maxLength), 0)
        } else if let minID = trim.minID {
            try stream.withView { view in
                try forEachEntry(view, reverse: false) { id, _ in
                    guard id < minID else { return .stop }
                    doomed += 1
                    return .proceed
                }
            }
        } else {
            return 0
        }
        if trim.approximate {
            doomed -= doomed % nodeEntries
            if trim.limit > 0 { doomed = min(doomed, Int(clamping: trim.limit) - Int(clamping: trim.limit) % nodeEntries) }
        }
        guard doomed > 0 else { return 0 }
        // The first item is the stream's last id: it is taken with the entries and put back.
        let taken = try stream.pop(head: true, doomed + 1)
        try taken[0].withUnsafeBytes { try stream.push($0, head: true) }
        return doomed
    }

    static func xtrim(_ c: WriteCall) -> WritePlan {
        if case .failure(let error) = parse(c.args, adding: false) { return .error(error) }
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .command({ keys, args in
            guard case .success(let options) = parse(args, adding: false) else { return .error(RESPError.syntax.message) }
            guard var stream = try keys.editList(args[1], as: .stream) else { return .integer(0) }
            let trimmed = try trim(&stream, options.trim)
            try keys.save(&stream, event: trimmed > 0 ? .xtrim : nil)
            return .integer(Int64(trimmed))
        }, records: 8)
    }

    /// XDEL key id [id …].
    static func xdel(_ c: WriteCall) -> WritePlan {
        for i in 2..<c.args.count where StreamID(c.args[i], missingSeq: 0) == nil { return .error(RESPError(message: invalidID)) }
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .command({ keys, args in
            guard var stream = try keys.editList(args[1], as: .stream) else { return .integer(0) }
            let ids = (2..<args.count).compactMap { StreamID(args[$0], missingSeq: 0) }
            var doomed: [[UInt8]] = []
            try stream.withView { view in
                try forEachEntry(view, reverse: false) { id, fields in
                    if ids.contains(id) { doomed.append(id.bytes + Array(fields)) }
                    return .proceed
                }
            }
            for entry in doomed { _ = try entry.withUnsafeBytes { try stream.remove($0, fromHead: true, limit: 1) } }
            try keys.save(&stream, event: doomed.isEmpty ? nil : .xdel)
            return .integer(Int64(doomed.count))
        }, records: 8)
    }
}
