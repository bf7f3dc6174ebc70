import Wire

/// What kind of command an entry is, as Redis's command table says it (shown by COMMAND) and as ShmKV's
/// own filters read it (not shown).
struct CommandFlags: OptionSet, Sendable {
    let rawValue: UInt32

    // Redis's flags, in the order COMMAND lists them.
    static let write = CommandFlags(rawValue: 1 << 0)
    static let readonly = CommandFlags(rawValue: 1 << 1)
    static let denyOOM = CommandFlags(rawValue: 1 << 2)
    static let admin = CommandFlags(rawValue: 1 << 3)
    static let pubsub = CommandFlags(rawValue: 1 << 4)
    static let noScript = CommandFlags(rawValue: 1 << 5)
    static let loading = CommandFlags(rawValue: 1 << 6)
    static let stale = CommandFlags(rawValue: 1 << 7)
    static let fast = CommandFlags(rawValue: 1 << 8)
    /// Refused inside MULTI (SAVE), as Redis's `no_multi`.
    static let noMulti = CommandFlags(rawValue: 1 << 9)
    /// May block its client (BLPOP…): `blocking` in COMMAND.
    static let blocking = CommandFlags(rawValue: 1 << 10)
    /// Runs while a script is busy (AUTH, MULTI, SHUTDOWN…): `allow_busy`. On SCRIPT and FUNCTION it
    /// means their KILL (and FUNCTION STATS) only, as Redis flags those subcommands.
    static let allowBusy = CommandFlags(rawValue: 1 << 11)

    // ShmKV's own.
    /// Runs before AUTH on a daemon that requires a password (Redis's `no_auth`).
    static let allowedBeforeAuth = CommandFlags(rawValue: 1 << 16)
    /// Runs on a RESP2 connection in subscribed mode.
    static let allowedWhileSubscribed = CommandFlags(rawValue: 1 << 17)
    /// A container (CONFIG GET, CLIENT ID…): ACL errors name `command|subcommand`.
    static let hasSubcommands = CommandFlags(rawValue: 1 << 18)
    /// Touches every key (FLUSHDB): a user limited to key prefixes may not run it.
    static let touchesAllKeys = CommandFlags(rawValue: 1 << 19)
    /// Shows data about the store (INFO): needs the read permission though it reads no key.
    static let readsStatistics = CommandFlags(rawValue: 1 << 20)
    /// Posts on the ring (PUBLISH): needs the write permission.
    static let publishes = CommandFlags(rawValue: 1 << 21)
    /// Runs at once even inside MULTI (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET), as in Redis.
    static let controlsTransaction = CommandFlags(rawValue: 1 << 22)

    /// Redis's names of the flags COMMAND shows, in its order.
    static let redisNames: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyOOM, "denyoom"), (.admin, "admin"), (.pubsub, "pubsub"),
        (.noScript, "noscript"), (.blocking, "blocking"), (.loading, "loading"), (.stale, "stale"), (.fast, "fast"), (.noMulti, "no_multi"),
    ]

    var redisFlagNames: [String] { CommandFlags.redisNames.filter { contains($0.0) }.map(\.1) }
}

/// Where a command's keys are among its arguments, as Redis's legacy key specification: from `first` to
/// `last` (negative: counted from the end, -1 the last argument) every `step`-th; `first` 0 for none.
struct KeyPositions: Sendable, Equatable {
    let first: Int
    let last: Int
    let step: Int
    /// For commands whose keys follow a count (SINTERCARD numkeys key …, ZUNIONSTORE dest numkeys key …):
    /// the count's position (0: none). Redis's legacy triple shows only the fixed keys.
    var countAt = 0
    /// SORT: the argument after a STORE option is a key too.
    var storeOption = false

    static let none = KeyPositions(first: 0, last: 0, step: 0)
    /// One key, the first argument.
    static let single = KeyPositions(first: 1, last: 1, step: 1)
    /// Every argument is a key.
    static let all = KeyPositions(first: 1, last: -1, step: 1)
    /// SORT key … [STORE destination].
    static let sort = KeyPositions(first: 1, last: 1, step: 1, storeOption: true)
    /// Every argument but the last (BLPOP key [key …] timeout).
    static let allButLast = KeyPositions(first: 1, last: -2, step: 1)
    /// Key, value, key, value…
    static let pairs = KeyPositions(first: 1, last: -1, step: 2)
    /// The first two arguments (RENAME, COPY, LCS).
    static let two = KeyPositions(first: 1, last: 2, step: 1)
    /// The argument after a subcommand (OBJECT ENCODING key, MEMORY USAGE key).
    static let afterSubcommand = KeyPositions(first: 2, last: 2, step: 1)
    /// The keys after a count at `at` (SINTERCARD numkeys key …).
    static func numbered(at: Int) -> KeyPositions { KeyPositions(first: 0, last: 0, step: 0, countAt: at) }
    /// A destination first, then keys after a count (ZUNIONSTORE destination numkeys key …).
    static let destinationThenNumbered = KeyPositions(first: 1, last: 1, step: 1, countAt: 2)

    /// Whether the command names keys at all.
    var hasKeys: Bool { first > 0 || countAt > 0 }

    /// Whether the keys' positions depend on the arguments (COMMAND's `movablekeys`).
    var movable: Bool { countAt > 0 || storeOption }

    /// The indices of the keys among `count` arguments (the command name included), fixed ones only.
    func indices(argumentCount count: Int) -> StrideThrough<Int> {
        guard first > 0, first < count else { return stride(from: 1, through: 0, by: 1) }
        let end = last < 0 ? count + last : min(last, count - 1)
        return stride(from: first, through: end, by: max(step, 1))
    }

    /// The indices of the keys among `args`: the fixed ones, then those after the count (as many as it
    /// says and the arguments hold).
    func indices(in args: RESPArguments) -> [Int] {
        var all = Array(indices(argumentCount: args.count))
        if countAt > 0, countAt < args.count, let n = args.integer(countAt), n > 0 {
            let end = min(countAt + Int(clamping: n), args.count - 1)
            if end > countAt { all.append(contentsOf: (countAt + 1)...end) }
        }
        if storeOption {
            // Redis's sortGetKeys: options' arguments skipped, the last STORE counts.
            var store: Int? = nil
            var i = 2
            while i < args.count {
                if args.is(i, "LIMIT") { i += 2 } else if args.is(i, "GET") || args.is(i, "BY") { i += 1 }
                else if args.is(i, "STORE") && i + 1 < args.count { store = i + 1 }
                i += 1
            }
            if let store { all.append(store) }
        }
        return all
    }
}

/// The group COMMAND DOCS reports.
enum CommandGroup: String, Sendable {
    case string, generic, server, connection, pubsub, transactions, hash, set, list, stream, scripting
    case sortedSet = "sorted-set"
}

/// How a command runs. Dispatch decides where: on the reactor, queued inside MULTI, or on the writer.
enum CommandHandler: Sendable {
    /// Reads the keyspace and replies, knowing neither where it runs nor where its reply goes: on the
    /// reactor's snapshot after the connection's earlier writes committed, or on the writer inside EXEC
    /// (seeing the transaction's earlier writes, its reply kept for EXEC's array). Throws only LMDB's
    /// errors.
    case keyspace(KeyspaceHandler)
    /// Runs at once on the reactor, after every earlier write of the connection committed (dispatch
    /// waits for them), and writes its reply: commands about the connection or the server. Inside MULTI
    /// it is queued and runs on the reactor when EXEC's outcome comes back, its reply in its place.
    case immediate(@Sendable (RESPSession, RESPArguments) -> Void)
    /// Checks its arguments and says what it asks for (`WritePlan`): a write, or an answer at once.
    /// Dispatch submits the write to the writer thread, queues it inside MULTI, or (from a replication
    /// stream) applies it and discards the reply.
    case write(WriteHandler)
}

/// One RESP command, described once (Redis's `struct redisCommand`): dispatch, arity errors, COMMAND,
/// the before-AUTH and subscribed-mode filters and ACL checks all read this and nothing else. A class,
/// so that dispatch passes a reference (one retain) rather than copying every field.
final class Command: AccessDescribed, Sendable {
    /// Lower-case name.
    let name: String
    /// Argument count including the name; negative: at least that many.
    let arity: Int
    let flags: CommandFlags
    let keys: KeyPositions
    let group: CommandGroup
    /// One line for COMMAND DOCS.
    let summary: String
    /// Other names that run the same entry (SUBSTR for GETRANGE); COMMAND lists only `name`.
    let aliases: [String]
    /// A container's subcommands (upper case): any other is refused at dispatch with Redis's `unknown
    /// subcommand`, so that inside MULTI it aborts the transaction as in Redis. Empty: not checked
    /// (not a container, or one whose handler answers every subcommand itself).
    let subcommands: [StaticString]
    let handler: CommandHandler
    /// The entry's position in `CommandTable.all`: the index of its per-reactor statistics.
    // Invariant: set once by `CommandTable.all`'s initialiser, before the entry is visible to any thread.
    nonisolated(unsafe) var index = 0

    init(_ name: String, arity: Int, _ flags: CommandFlags, keys: KeyPositions = .none, _ group: CommandGroup,
         _ summary: String, aliases: [String] = [], subcommands: [StaticString] = [], _ handler: CommandHandler) {
        self.subcommands = subcommands
        self.name = name
        self.arity = arity
        self.flags = flags
        self.keys = keys
        self.group = group
        self.summary = summary
        self.aliases = aliases
        self.handler = handler
    }

    /// Whether `count` arguments (the name included) satisfy the arity.
    func accepts(argumentCount count: Int) -> Bool { arity >= 0 ? count == arity : count >= -arity }

}

/// What the access check (`AccessCheck`) reads of a command, the same for a RESP command and a native
/// opcode.
protocol AccessDescribed {
    /// Lower-case name.
    var name: String { get }
    var flags: CommandFlags { get }
    var group: CommandGroup { get }
}

extension AccessDescribed {
    /// What a user needs to run it: read for read-only and pub/sub commands and statistics, write for
    /// writes and PUBLISH, admin for admin commands (FLUSHDB needs both write and admin).
    var permission: Permissions {
        var needed: Permissions = []
        if !flags.isDisjoint(with: [.readonly, .pubsub, .readsStatistics]) { needed.insert(.read) }
        if flags.contains(.write) || flags.contains(.publishes) { needed.insert(.write) }
        if flags.contains(.admin) { needed.insert(.admin) }
        return needed
    }
}

/// A native opcode, described with the same flags, groups and permissions as RESP commands, in the same
/// table (`CommandTable.native`): the access check, the subscribed-mode filter and the cluster's slot
/// check read it as they read a RESP entry. Its keys are those its typed request names
/// (`RequestView.allKeys`); `NativeSession` runs it (the native protocol answers in its own terms:
/// NOT_FOUND, a status per refusal).
struct NativeCommand: AccessDescribed, Sendable {
    let opcode: Opcode
    let name: String
    let flags: CommandFlags
    let group: CommandGroup
    /// One line for docs/PROTOCOL.md's table.
    let summary: String

    init(_ opcode: Opcode, _ name: String, _ flags: CommandFlags, _ group: CommandGroup, _ summary: String) {
        self.opcode = opcode
        self.name = name
        self.flags = flags
        self.group = group
        self.summary = summary
    }
}

/// A command name folded to lower case and packed into 16 bytes: the table's lookup key, built from the
/// request's bytes without allocating.
struct CommandName: Hashable, Sendable {
    private(set) var low: UInt64 = 0
    private(set) var high: UInt64 = 0
    /// The length tells `get` from `get\0`.
    private(set) var length: Int

    /// Nil for a name longer than 16 bytes (no command has one) or an empty one.
    init?(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty, bytes.count <= 16 else { return nil }
        length = bytes.count
        for (i, byte) in bytes.enumerated() {
            let folded = UInt64(byte >= 65 && byte <= 90 ? byte | 0x20 : byte)
            if i < 8 { low |= folded << (i * 8) } else { high |= folded << ((i - 8) * 8) }
        }
    }

    /// A slot in a table of `1 << bits` slots (a multiplicative hash: a few instructions, where the
    /// standard library's seeded SipHash costs tens of nanoseconds per request).
    func slot(bits: Int) -> Int {
        Int(truncatingIfNeeded: (low &* 0x9E37_79B9_7F4A_7C15 ^ (high &+ UInt64(length)) &* 0xC2B2_AE3D_27D4_EB4F) >> UInt64(64 - bits))
    }

    init?(_ name: String) {
        guard let made = Array(name.utf8).withUnsafeBytes({ CommandName($0) }) else { return nil }
        self = made
    }
}
