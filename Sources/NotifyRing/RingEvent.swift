/// Which command's event a change is, by Redis's keyspace-notification name (`redisName`); `none` for
/// changes no Redis event names (FLUSHDB). Carried by every change record, so local subscribers see
/// what a RESP subscriber of `__keyevent@0__:*` sees.
public enum KeyEvent: UInt8, Sendable, Hashable, CaseIterable {
    /// No Redis event (FLUSHDB/FLUSHALL's clear).
    case none = 0
    /// SET and its relatives, MSET, GETSET.
    case set = 1
    /// DEL, UNLINK, GETDEL, and an EXPIRE whose time has already passed.
    case del = 2
    /// A deadline set (EXPIRE family, GETEX, SET … EX as a second event: see `ChangeFlags`).
    case expire = 3
    /// The key's deadline passed and the daemon deleted it.
    case expired = 4
    /// PERSIST, GETEX PERSIST.
    case persist = 5
    /// INCR, INCRBY, DECR, DECRBY.
    case incrby = 6
    /// INCRBYFLOAT.
    case incrbyfloat = 7
    /// APPEND.
    case append = 8
    /// SETRANGE.
    case setrange = 9
    /// RENAME's source key.
    case renameFrom = 10
    /// RENAME's destination key.
    case renameTo = 11
    /// COPY's destination key.
    case copyTo = 12
    /// HSET, HSETNX, HMSET.
    case hset = 13
    /// HDEL.
    case hdel = 14
    /// HINCRBY.
    case hincrby = 15
    /// HINCRBYFLOAT.
    case hincrbyfloat = 16
    /// SADD, and SMOVE's destination.
    case sadd = 17
    /// SREM, and SMOVE's source.
    case srem = 18
    /// SPOP.
    case spop = 19
    /// SINTERSTORE.
    case sinterstore = 20
    /// SUNIONSTORE.
    case sunionstore = 21
    /// SDIFFSTORE.
    case sdiffstore = 22
    /// ZADD.
    case zadd = 23
    /// ZINCRBY, ZADD … INCR.
    case zincr = 24
    /// ZREM.
    case zrem = 25
    /// ZREMRANGEBYSCORE.
    case zrembyscore = 26
    /// ZREMRANGEBYRANK.
    case zrembyrank = 27
    /// ZREMRANGEBYLEX.
    case zrembylex = 28
    /// ZPOPMIN, ZMPOP MIN.
    case zpopmin = 29
    /// ZPOPMAX, ZMPOP MAX.
    case zpopmax = 30
    /// ZUNIONSTORE.
    case zunionstore = 31
    /// ZINTERSTORE.
    case zinterstore = 32
    /// ZDIFFSTORE.
    case zdiffstore = 33
    /// ZRANGESTORE.
    case zrangestore = 34
    /// MOVE's key in its source database.
    case moveFrom = 35
    /// MOVE's key in its target database.
    case moveTo = 36
    /// Lists (LPUSH, RPUSH…; LMOVE is a pop then a push).
    case lpush = 37
    case rpush = 38
    case lpop = 39
    case rpop = 40
    case linsert = 41
    case lset = 42
    case lrem = 43
    case ltrim = 44
    /// SORT … STORE's destination.
    case sortstore = 45
    /// Streams (the commands python-rq's results need).
    case xadd = 46
    case xdel = 47
    case xtrim = 48
    /// RESTORE (and a key `shmkv load --rdb` stores).
    case restore = 49

    /// The name Redis publishes (`set`, `rename_from`, …); empty for `none`.
    public var redisName: String {
        switch self {
        case .none: ""
        case .set: "set"
        case .del: "del"
        case .expire: "expire"
        case .expired: "expired"
        case .persist: "persist"
        case .incrby: "incrby"
        case .incrbyfloat: "incrbyfloat"
        case .append: "append"
        case .setrange: "setrange"
        case .renameFrom: "rename_from"
        case .renameTo: "rename_to"
        case .copyTo: "copy_to"
        case .hset: "hset"
        case .hdel: "hdel"
        case .hincrby: "hincrby"
        case .hincrbyfloat: "hincrbyfloat"
        case .sadd: "sadd"
        case .srem: "srem"
        case .spop: "spop"
        case .sinterstore: "sinterstore"
        case .sunionstore: "sunionstore"
        case .sdiffstore: "sdiffstore"
        case .zadd: "zadd"
        case .zincr: "zincr"
        case .zrem: "zrem"
        case .zrembyscore: "zremrangebyscore"
        case .zrembyrank: "zremrangebyrank"
        case .zrembylex: "zremrangebylex"
        case .zpopmin: "zpopmin"
        case .zpopmax: "zpopmax"
        case .zunionstore: "zunionstore"
        case .zinterstore: "zinterstore"
        case .zdiffstore: "zdiffstore"
        case .zrangestore: "zrangestore"
        case .moveFrom: "move_from"
        case .moveTo: "move_to"
        case .lpush: "lpush"
        case .rpush: "rpush"
        case .lpop: "lpop"
        case .rpop: "rpop"
        case .linsert: "linsert"
        case .lset: "lset"
        case .lrem: "lrem"
        case .ltrim: "ltrim"
        case .sortstore: "sortstore"
        case .xadd: "xadd"
        case .xdel: "xdel"
        case .xtrim: "xtrim"
        case .restore: "restore"
        }
    }
}

/// What else a change record says about its key, for Redis's events that come in pairs.
public struct ChangeFlags: OptionSet, Sendable, Hashable {
    /// The raw bits, as stored in the record.
    public let rawValue: UInt8
    /// A bit set.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The key did not exist before (Redis's `new` event, sent before the command's).
    public static let created = ChangeFlags(rawValue: 1 << 0)
    /// The write also gave the key a deadline (SET … EX: Redis sends `expire` after `set`).
    public static let deadlineSet = ChangeFlags(rawValue: 1 << 1)
    /// A `clear` made by SWAPDB (the database now holds another's keys), not FLUSHDB.
    public static let swapped = ChangeFlags(rawValue: 1 << 2)
}

/// One change read from the ring.
public struct RingChange: Sendable, Hashable {
    /// What happened to the key.
    public let kind: ChangeKind
    /// The Redis event of the command that made it.
    public let event: KeyEvent
    /// Events that came with it (a new key, a deadline set).
    public let flags: ChangeFlags
    /// Consecutive across the whole life of a data directory (the daemon keeps the last one in LMDB).
    public let sequence: UInt64
    /// The LMDB transaction that made the change: a read snapshot with at least this id sees it.
    public let transactionID: UInt64
    /// The key (empty for `.clear`). The record carries no value: read it from LMDB if you need it.
    public let key: [UInt8]
    /// The daemon's number for the connection that made the change (its RESP client id, cut to 32
    /// bits; 0 for native connections and the daemon's own expiries): CLIENT TRACKING's NOLOOP.
    public let origin: UInt32
    /// The numbered database (SELECT) the key is in.
    public let database: UInt8

    /// A change as a subscriber decoded it (tests and `LocalStore` build them too).
    public init(kind: ChangeKind, event: KeyEvent = .none, flags: ChangeFlags = [], sequence: UInt64,
                transactionID: UInt64, key: [UInt8], origin: UInt32 = 0, database: UInt8 = 0) {
        self.origin = origin
        self.database = database
        self.kind = kind
        self.event = event
        self.flags = flags
        self.sequence = sequence
        self.transactionID = transactionID
        self.key = key
    }
}

/// Why a subscriber lost track, and which sequence numbers it did not see.
public struct RingResync: Sendable, Hashable {
    /// The three ways a subscriber loses track; `rawValue` is the name logs and the CLI print.
    public enum Reason: String, Sendable, Hashable {
        /// The subscriber fell a whole capacity behind and was overtaken.
        case lapped
        /// A record's sequence was not the previous one plus one (changes committed but never published,
        /// e.g. the daemon was killed between commit and publish).
        case gap
        /// The ring was replaced by a new one (the daemon restarted).
        case newEpoch = "new-epoch"
    }

    /// How the subscriber lost track.
    public let reason: Reason
    /// The sequences the subscriber did not see (may be empty for `.newEpoch`). Anything in it may have
    /// changed: reread what you care about from LMDB.
    public let missed: Range<UInt64>

    /// A resync over `missed` for `reason`.
    public init(reason: Reason, missed: Range<UInt64>) {
        self.reason = reason
        self.missed = missed
    }
}

/// A message published to a channel (PUBLISH), read from the ring.
public struct RingMessage: Sendable, Hashable {
    /// Its place among the ring's records (messages and changes share one numbering).
    public let sequence: UInt64
    /// The channel's name.
    public let channel: [UInt8]
    /// The message.
    public let payload: [UInt8]

    /// A message as a subscriber decoded it.
    public init(sequence: UInt64, channel: [UInt8], payload: [UInt8]) {
        self.sequence = sequence
        self.channel = channel
        self.payload = payload
    }
}

/// What a subscriber reads: a change, a message, or notice that it must resynchronise.
public enum RingEvent: Sendable, Hashable {
    /// A key changed.
    case change(RingChange)
    /// A message was published to a channel.
    case message(RingMessage)
    /// Changes were missed; reread what you care about.
    case resync(RingResync)
}
