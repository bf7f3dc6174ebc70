import LMDB
import NotifyRing
import StoreLayout
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// SORT and SORT_RO as Redis 7.0's sort.c does them: a list, set or sorted set sorted numerically or
/// (ALPHA) by bytes, by its elements or by the keys a BY pattern names (`*` replaced by the element,
/// `->field` reading a hash), LIMIT, GET patterns (`#` the element itself), ASC|DESC, STORE into a list.
/// Without STORE it is a read; with it, a write that sorts inside the writer's transaction.
enum SortCommand {
    struct Options {
        var descending = false
        var alpha = false
        var limit: (start: Int64, count: Int64) = (0, -1)
        /// The argument index of STORE's destination.
        var store: Int? = nil
        var by: [UInt8]? = nil
        var gets: [[UInt8]] = []
        /// BY a pattern without `*`: nothing is sorted.
        var dontSort = false
        /// Called from a script: a set is sorted all the same.
        var fromScript = false
    }

    static func parse(_ args: RESPArguments, readOnly: Bool) -> Result<Options, RESPError> {
        var o = Options()
        var j = 2
        while j < args.count {
            let left = args.count - j - 1
            if args.is(j, "ASC") { o.descending = false }
            else if args.is(j, "DESC") { o.descending = true }
            else if args.is(j, "ALPHA") { o.alpha = true }
            else if args.is(j, "LIMIT") && left >= 2 {
                guard let start = args.integer(j + 1), let count = args.integer(j + 2) else { return .failure(.notInteger) }
                o.limit = (start, count)
                j += 2
            } else if !readOnly && args.is(j, "STORE") && left >= 1 {
                o.store = j + 1
                j += 1
            } else if args.is(j, "BY") && left >= 1 {
                o.by = Array(args[j + 1])
                o.dontSort = !o.by!.contains(UInt8(ascii: "*"))
                j += 1
            } else if args.is(j, "GET") && left >= 1 {
                o.gets.append(Array(args[j + 1]))
                j += 1
            } else {
                return .failure(.syntax)
            }
            j += 1
        }
        return .success(o)
    }

    /// SORT: a read, or with STORE a write.
    static func sort(_ c: WriteCall) -> WritePlan {
        switch parse(c.args, readOnly: false) {
        case .failure(let error): return .error(error)
        case .success(let options):
            guard let store = options.store else { return .read(sortRO) }
            if let problem = c.keyProblem(store) { return .error(problem) }
            return .command(applyStore, records: 64)
        }
    }

    /// SORT_RO, and SORT without STORE.
    static func sortRO(_ c: CommandCall) throws {
        var options: Options
        switch parse(c.args, readOnly: c.args.is(0, "SORT_RO")) {
        case .failure(let error): return c.reply.error(error.message)
        case .success(let o): options = o
        }
        options.fromScript = c.client.fromScript
        switch try sorted(c.keys, c.args[1], options) {
        case .failure(let error): c.reply.error(error.message)
        case .success(let items):
            c.reply.array(items.count)
            for item in items { if let item { c.reply.bulk(item) } else { c.reply.null() } }
        }
    }

    private static func applyStore(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        guard case .success(let options) = parse(args, readOnly: false), let store = options.store else { return .error(RESPError.syntax.message) }
        let result = try withUnsafeMutablePointer(to: &keys) { try sorted(Keyspace(.writer($0)), args[1], options) }
        guard case .success(let items) = result else {
            if case .failure(let error) = result { return .error(error.message) }
            return .error(RESPError.syntax.message)
        }
        var list = try keys.replaceList(args[store])
        try list.noteGrowth(adding: items.reduce(0) { $0 + ($1?.count ?? 0) }, items: items.count)
        for item in items { try (item ?? []).withUnsafeBytes { try list.push($0, head: false) } }
        try keys.save(&list, event: items.isEmpty ? nil : .sortstore)
        return .integer(Int64(items.count))
    }

    private struct Entry {
        let element: [UInt8]
        var score = 0.0
        var by: [UInt8]? = nil
    }

    /// The output: the elements in order within LIMIT, or for each the GET patterns' values (nil: none).
    static func sorted(_ keys: Keyspace, _ key: UnsafeRawBufferPointer, _ o: Options) throws -> Result<[[UInt8]?], RESPError> {
        var options = o
        let type = try keys.type(of: key) ?? .list
        guard type != .string, type != .hash else {
            return .failure(RESPError(message: WrongTypeError.message))
        }
        // A set in no order of its own is sorted (bytes) when stored or read by a script, so that the
        // result is the same everywhere (Redis's rule for replication).
        if options.dontSort && type == .set && (options.store != nil || options.fromScript) {
            options.dontSort = false
            options.alpha = true
            options.by = nil
        }
        let length = try keys.withCollection(key, as: type) { $0?.count ?? 0 }
        var start = max(options.limit.start, 0)
        // Saturating: LIMIT's numbers come from the client (LIMIT 2 9223372036854775807).
        var end = options.limit.count < 0 ? Int64(length) - 1 : start.addingReportingOverflow(options.limit.count - 1).overflow ? Int64.max : start + options.limit.count - 1
        if start >= Int64(length) {
            start = Int64(length) - 1
            end = Int64(length) - 2
        }
        if end >= Int64(length) { end = Int64(length) - 1 }
        var entries: [Entry] = []
        try keys.withCollection(key, as: type) { view in
            guard let view else { return }
            if options.dontSort && (type == .list || type == .zset) {
                // In the collection's own order, only the range LIMIT asks for.
                guard end >= start else { return }
                let wanted = Int(end - start + 1)
                if type == .list {
                    try view.forEachListItem(reverse: options.descending, skip: Int(start)) { item in
                        entries.append(Entry(element: Array(item)))
                        return entries.count < wanted ? .proceed : .stop
                    }
                } else {
                    var skip = Int(start)
                    try view.forEachInOrder(reverse: options.descending) { member, _ in
                        if skip > 0 { skip -= 1; return .proceed }
                        entries.append(Entry(element: Array(member)))
                        return entries.count < wanted ? .proceed : .stop
                    }
                }
                end -= start
                start = 0
                return
            }
            switch type {
            case .list: try view.forEachListItem { entries.append(Entry(element: Array($0))); return .proceed }
            case .set: try view.forEachMember { entries.append(Entry(element: Array($0))); return .proceed }
            default: try view.forEachInOrder { member, _ in entries.append(Entry(element: Array(member))); return .proceed }
            }
        }
        if !options.dontSort {
            for i in entries.indices {
                var by: [UInt8]? = entries[i].element
                if let pattern = options.by {
                    by = try lookUp(keys, pattern, entries[i].element)
                    guard by != nil else { continue }
                }
                if options.alpha {
                    if options.by != nil { entries[i].by = by }
                } else {
                    guard let score = parseScore(by!) else { return .failure(RESPError(message: "ERR One or more scores can't be converted into double")) }
                    entries[i].score = score
                }
            }
            let alpha = options.alpha, byPattern = options.by != nil, descending = options.descending
            entries.sort { a, b in
                let order = compare(a, b, alpha: alpha, byPattern: byPattern)
                return descending ? order > 0 : order < 0
            }
        }
        var output: [[UInt8]?] = []
        end = min(end, Int64(entries.count) - 1)
        guard end >= start else { return .success(output) }
        for entry in entries[Int(start)...Int(end)] {
            if options.gets.isEmpty { output.append(entry.element) }
            for pattern in options.gets { output.append(try lookUp(keys, pattern, entry.element)) }
        }
        return .success(output)
    }

    /// Redis's `sortCompare` (before DESC): numbers, equal ones by their bytes; or bytes, an element
    /// whose BY key is missing first.
    private static func compare(_ a: Entry, _ b: Entry, alpha: Bool, byPattern: Bool) -> Int {
        if !alpha {
            if a.score != b.score { return a.score < b.score ? -1 : 1 }
            return bytesCompare(a.element, b.element)
        }
        guard byPattern else { return bytesCompare(a.element, b.element) }
        switch (a.by, b.by) {
        case (nil, nil): return 0
        case (nil, _): return -1
        case (_, nil): return 1
        case (let x?, let y?): return bytesCompare(x, y)
        }
    }

    private static func bytesCompare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        for (x, y) in zip(a, b) where x != y { return x < y ? -1 : 1 }
        return a.count == b.count ? 0 : a.count < b.count ? -1 : 1
    }

    /// `strtod` as Redis reads a weight: the whole text, no overflow, not NaN.
    private static func parseScore(_ bytes: [UInt8]) -> Double? {
        guard !bytes.contains(0) else { return nil }
        return (bytes + [0]).withUnsafeBufferPointer { buffer -> Double? in
            buffer.withMemoryRebound(to: CChar.self) { text in
                var end: UnsafeMutablePointer<CChar>? = nil
                errno = 0
                let value = strtod(text.baseAddress!, &end)
                guard let end, end.pointee == 0, errno != ERANGE, !value.isNaN else { return nil }
                return value
            }
        }
    }

    /// Redis's `lookupKeyByPattern`: `#` is the element; otherwise the first `*` is replaced by it and
    /// the key read as a string, or with `->field` as a hash's field. Nil for none (or another type).
    static func lookUp(_ keys: Keyspace, _ pattern: [UInt8], _ element: [UInt8]) throws -> [UInt8]? {
        if pattern == [UInt8(ascii: "#")] { return element }
        guard let star = pattern.firstIndex(of: UInt8(ascii: "*")) else { return nil }
        var field: [UInt8]? = nil
        var keyEnd = pattern.count
        var i = star + 1
        while i + 1 < pattern.count {
            if pattern[i] == UInt8(ascii: "-") && pattern[i + 1] == UInt8(ascii: ">") && i + 2 < pattern.count {
                field = Array(pattern[(i + 2)...])
                keyEnd = i
                break
            }
            i += 1
        }
        let name = Array(pattern[..<star]) + element + Array(pattern[(star + 1)..<keyEnd])
        return try name.withUnsafeBytes { name -> [UInt8]? in
            switch try keys.type(of: name) {
            case .string?: return field == nil ? try keys.withValue(name) { $0.map(Array.init) } : nil
            case .hash?:
                guard let field else { return nil }
                return try keys.withCollection(name, as: .hash) { hash in
                    try field.withUnsafeBytes { f in try hash?.withField(f) { $0.map(Array.init) } }
                }
            default: return nil
            }
        }
    }
}
