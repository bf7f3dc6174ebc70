import NotifyRing
import Synchronization

/// Redis's `notify-keyspace-events` classes, with Redis's bit values (so that CONFIG GET prints what
/// redis-server prints). Classes for types ShmKV does not have yet (lists, streams…) are accepted and
/// printed back but select nothing.
struct KeyspaceEventClasses: OptionSet, Sendable {
    let rawValue: UInt32

    static let keyspace = KeyspaceEventClasses(rawValue: 1 << 0)   // K
    static let keyevent = KeyspaceEventClasses(rawValue: 1 << 1)   // E
    static let generic = KeyspaceEventClasses(rawValue: 1 << 2)    // g
    static let string = KeyspaceEventClasses(rawValue: 1 << 3)     // $
    static let list = KeyspaceEventClasses(rawValue: 1 << 4)       // l
    static let set = KeyspaceEventClasses(rawValue: 1 << 5)        // s
    static let hash = KeyspaceEventClasses(rawValue: 1 << 6)       // h
    static let zset = KeyspaceEventClasses(rawValue: 1 << 7)       // z
    static let expired = KeyspaceEventClasses(rawValue: 1 << 8)    // x
    static let evicted = KeyspaceEventClasses(rawValue: 1 << 9)    // e
    static let stream = KeyspaceEventClasses(rawValue: 1 << 10)    // t
    static let keyMiss = KeyspaceEventClasses(rawValue: 1 << 11)   // m
    static let module = KeyspaceEventClasses(rawValue: 1 << 12)    // d
    static let new = KeyspaceEventClasses(rawValue: 1 << 13)       // n
    /// `A`: every class but `m` and `n`.
    static let all: KeyspaceEventClasses = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted, .stream, .module]

    /// The letters in the order Redis prints the classes that `A` does not stand for.
    private static let letters: [(Character, KeyspaceEventClasses)] = [
        ("g", .generic), ("$", .string), ("l", .list), ("s", .set), ("h", .hash), ("z", .zset), ("x", .expired),
        ("e", .evicted), ("t", .stream), ("d", .module), ("n", .new),
    ]

    /// Parses Redis's class letters; nil for any other character (Redis's error then).
    init?(_ text: String) {
        var classes: KeyspaceEventClasses = []
        for c in text {
            switch c {
            case "A": classes.formUnion(.all)
            case "K": classes.insert(.keyspace)
            case "E": classes.insert(.keyevent)
            case "m": classes.insert(.keyMiss)
            default:
                guard let (_, one) = KeyspaceEventClasses.letters.first(where: { $0.0 == c }) else { return nil }
                classes.insert(one)
            }
        }
        self = classes
    }

    init(rawValue: UInt32) { self.rawValue = rawValue }

    /// As Redis prints it: `A` for all of `A`'s classes (and then no other class letter, `n` included),
    /// else each letter; then `K`, `E`, `m`.
    var description: String {
        var text = ""
        if isSuperset(of: .all) {
            text = "A"
        } else {
            for (letter, one) in KeyspaceEventClasses.letters where contains(one) { text.append(letter) }
        }
        if contains(.keyspace) { text += "K" }
        if contains(.keyevent) { text += "E" }
        if contains(.keyMiss) { text += "m" }
        return text
    }

    /// The class a key event belongs to in Redis (string commands `$`, key commands `g`, expiry `x`).
    static func of(_ event: KeyEvent) -> KeyspaceEventClasses {
        switch event {
        case .set, .setrange, .incrby, .incrbyfloat, .append: .string
        case .expired: .expired
        case .none, .del, .expire, .persist, .renameFrom, .renameTo, .copyTo, .moveFrom, .moveTo, .restore: .generic
        case .hset, .hdel, .hincrby, .hincrbyfloat: .hash
        case .lpush, .rpush, .lpop, .rpop, .linsert, .lset, .lrem, .ltrim, .sortstore: .list
        case .xadd, .xdel, .xtrim: .stream
        case .sadd, .srem, .spop, .sinterstore, .sunionstore, .sdiffstore: .set
        case .zadd, .zincr, .zrem, .zrembyscore, .zrembyrank, .zrembylex, .zpopmin, .zpopmax, .zunionstore, .zinterstore,
             .zdiffstore, .zrangestore: .zset
        }
    }

    static let invalidMessage = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
}

/// The daemon's `notify-keyspace-events`, read by every RESP subscriber for each event and by the
/// writer once per batch (a plain SET looks its key up only while `n` is on); changed by CONFIG SET.
final class KeyspaceNotifications: Sendable {
    private let bits: Atomic<UInt32>

    init(_ classes: KeyspaceEventClasses) { bits = Atomic(classes.rawValue) }

    var classes: KeyspaceEventClasses {
        get { KeyspaceEventClasses(rawValue: bits.load(ordering: .relaxed)) }
    }

    func set(_ classes: KeyspaceEventClasses) { bits.store(classes.rawValue, ordering: .relaxed) }
}
