import LMDB
import NotifyRing
import StoreLayout
import Wire

/// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, as Redis's `zunionInterDiffGenericCommand`:
/// the count of keys checked first, then every key's type (a sorted set, or a set whose members score
/// 1), then the options (WEIGHTS, AGGREGATE, WITHSCORES, LIMIT) — in that order, so that the errors are
/// Redis's. Inputs may be the same key more than once.
enum SortedSetAlgebra {
    enum Operation { case union, intersection, difference }
    enum Aggregate { case sum, min, max }

    struct Request {
        var operation: Operation
        var keys: Range<Int>
        var weights: [Double]
        var aggregate = Aggregate.sum
        var withScores = false
        var limit = 0
    }

    /// Parses the command whose count of keys is at `countAt` (1, or 2 for the STORE forms), looking at
    /// each key's type through `keys`; the error line, or what to compute.
    static func parse(_ args: RESPArguments, countAt: Int, store: Bool, cardinality: Bool, _ keys: Keyspace) throws -> Result<Request, RESPError> {
        let name = args.string(0).lowercased()
        let operation: Operation = name.hasPrefix("zunion") ? .union : name.hasPrefix("zinter") ? .intersection : .difference
        guard let numkeys = args.integer(countAt) else { return .failure(.notInteger) }
        guard numkeys >= 1 else { return .failure(RESPError(message: "ERR at least 1 input key is needed for '\(name)' command")) }
        guard numkeys <= Int64(args.count - countAt - 1) else { return .failure(.syntax) }
        let range = (countAt + 1)..<(countAt + 1 + Int(numkeys))
        for i in range {
            switch try keys.type(of: args[i]) {
            case nil, .zset?, .set?: continue
            default: throw WrongTypeError(found: .string)
            }
        }
        var request = Request(operation: operation, keys: range, weights: Array(repeating: 1, count: range.count))
        var j = range.upperBound
        while j < args.count {
            let remaining = args.count - j
            if operation != .difference && !cardinality && remaining >= range.count + 1 && args.is(j, "WEIGHTS") {
                for i in 0..<range.count {
                    guard let weight = RedisDouble.parse(args[j + 1 + i]) else { return .failure(RESPError(message: "ERR weight value is not a float")) }
                    request.weights[i] = weight
                }
                j += 1 + range.count
            } else if operation != .difference && !cardinality && remaining >= 2 && args.is(j, "AGGREGATE") {
                if args.is(j + 1, "SUM") { request.aggregate = .sum }
                else if args.is(j + 1, "MIN") { request.aggregate = .min }
                else if args.is(j + 1, "MAX") { request.aggregate = .max }
                else { return .failure(.syntax) }
                j += 2
            } else if !store && !cardinality && args.is(j, "WITHSCORES") {
                request.withScores = true
                j += 1
            } else if cardinality && remaining >= 2 && args.is(j, "LIMIT") {
                guard let n = args.integer(j + 1), n >= 0 else { return .failure(RESPError(message: "ERR LIMIT can't be negative")) }
                request.limit = Int(clamping: n)
                j += 2
            } else {
                return .failure(.syntax)
            }
        }
        return .success(request)
    }

    /// An input: a sorted set's members and scores, or a set's members scoring 1; nil when absent.
    private static func input(_ keys: Keyspace, _ key: UnsafeRawBufferPointer) throws -> [CollectionCommands.Element]? {
        try keys.withCollection(key) { view in
            guard let view else { return nil }
            var elements = try CollectionCommands.all(view)
            if view.type == .set { for i in elements.indices { elements[i].score = 1 } }
            return elements
        }
    }

    private static func aggregate(_ target: inout Double, _ value: Double, _ how: Aggregate) {
        switch how {
        case .sum:
            target += value
            if target.isNaN { target = 0 }
        case .min: target = value < target ? value : target
        case .max: target = value > target ? value : target
        }
    }

    /// The result, ordered by score then member (a sorted set's order). Inputs are combined in Redis's
    /// order — smallest first for a union or an intersection — so that sums round as Redis's do.
    static func compute(_ request: Request, _ args: RESPArguments, _ keys: Keyspace) throws -> [CollectionCommands.Element] {
        var sources: [(elements: [CollectionCommands.Element], weight: Double)] = []
        for (n, i) in request.keys.enumerated() { sources.append((try input(keys, args[i]) ?? [], request.weights[n])) }
        if request.operation != .difference {
            sources = sources.enumerated().sorted { ($0.element.elements.count, $0.offset) < ($1.element.elements.count, $1.offset) }.map(\.element)
        }
        var scores: [[UInt8]: Double] = [:]
        var members: [[UInt8]] = []
        switch request.operation {
        case .union:
            for source in sources {
                for element in source.elements {
                    var score = source.weight * element.score
                    if score.isNaN { score = 0 }
                    if scores[element.member] != nil {
                        aggregate(&scores[element.member]!, score, request.aggregate)
                    } else {
                        scores[element.member] = score
                        members.append(element.member)
                    }
                }
            }
        case .intersection:
            guard let smallest = sources.first, !smallest.elements.isEmpty else { return [] }
            let lookups = sources.map { Dictionary($0.elements.map { ($0.member, $0.score) }, uniquingKeysWith: { a, _ in a }) }
            outer: for element in smallest.elements {
                var score = smallest.weight * element.score
                if score.isNaN { score = 0 }
                for n in sources.indices.dropFirst() {
                    guard let value = lookups[n][element.member] else { continue outer }
                    aggregate(&score, value * sources[n].weight, request.aggregate)
                }
                scores[element.member] = score
                members.append(element.member)
                if request.limit > 0 && members.count >= request.limit { break }
            }
        case .difference:
            let others = sources.dropFirst().map { Set($0.elements.map(\.member)) }
            for element in sources[0].elements where !others.contains(where: { $0.contains(element.member) }) {
                scores[element.member] = element.score
                members.append(element.member)
            }
        }
        return members.map { CollectionCommands.Element(member: $0, score: scores[$0]!) }.sorted {
            $0.score < $1.score || ($0.score == $1.score && $0.member.lexicographicallyPrecedes($1.member))
        }
    }

    /// ZUNION, ZINTER, ZDIFF numkeys key [key …] [WEIGHTS …] [AGGREGATE …] [WITHSCORES].
    static func read(_ c: CommandCall) throws {
        switch try parse(c.args, countAt: 1, store: false, cardinality: false, c.keys) {
        case .failure(let error): c.reply.error(error.message)
        case .success(let request): SortedSetCommands.replyScored(c, try compute(request, c.args, c.keys), withScores: request.withScores)
        }
    }

    /// ZINTERCARD numkeys key [key …] [LIMIT limit].
    static func intercard(_ c: CommandCall) throws {
        switch try parse(c.args, countAt: 1, store: false, cardinality: true, c.keys) {
        case .failure(let error): c.reply.error(error.message)
        case .success(let request): c.reply.integer(try compute(request, c.args, c.keys).count)
        }
    }

    /// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE destination numkeys key [key …] [options]: every check but
    /// the keys' names is the writer's, in Redis's order.
    static func store(_ c: WriteCall) -> WritePlan {
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .command(applyStore, records: c.args.count * 2)
    }

    private static func applyStore(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        let result: Result<[CollectionCommands.Element], RESPError> = try withUnsafeMutablePointer(to: &keys) { writer in
            let view = Keyspace(.writer(writer))
            switch try parse(args, countAt: 2, store: true, cardinality: false, view) {
            case .failure(let error): return .failure(error)
            case .success(let request): return .success(try compute(request, args, view))
            }
        }
        switch result {
        case .failure(let error): return .error(error.message)
        case .success(let elements):
            let event: KeyEvent = args.is(0, "ZUNIONSTORE") ? .zunionstore : args.is(0, "ZINTERSTORE") ? .zinterstore : .zdiffstore
            return try SortedSetCommands.store(elements, at: args[1], event: event, &keys)
        }
    }
}
