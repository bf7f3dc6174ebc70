import Posix
import StoreLayout
import Wire

/// What a write command asks for, decided from its arguments alone (Redis's checks, in Redis's order).
/// A write handler returns one and does nothing else: dispatch carries it out — submits it to the writer
/// (its reply when the batch committed), queues it as a step of MULTI, or, for a replication stream,
/// applies it with a sink that discards the reply.
enum WritePlan {
    /// Answered without the writer: an error in the arguments, or an answer known at once (DEL of
    /// keys LMDB cannot hold: 0).
    case reply(CommandResult)
    /// `write`, applied by the writer to the arguments `bytes` names; `shape` says how its outcome is
    /// answered.
    case write(StoredWrite, WriteBytes, RESPReplyShape = .standard)
    /// An operation that carries none of the request's bytes (FLUSHDB's clear, SAVE).
    case operation(WriteOperation)
    /// A read after all: GETEX with an invalid time looks its key up first, as Redis does.
    case read(KeyspaceHandler)

    static func error(_ message: String) -> WritePlan { .reply(.error(message)) }
    static func error(_ error: RESPError) -> WritePlan { .reply(.error(error.message)) }

    /// A command that applies itself with `apply` on the writer, its arguments packed; `records`: the
    /// element records its arguments may write.
    static func command(_ apply: @escaping WriteApply, records: Int) -> WritePlan {
        .write(.command(apply, records: records), .arguments)
    }

    /// The plan as a step of a MULTI block, its bytes copied out of the request.
    func transactionStep(_ args: RESPArguments) -> TransactionStep {
        switch self {
        case .reply(let result):
            return .result(result)
        case .write(let write, let bytes, let shape):
            let size = bytes.size(args)
            return .write(.owned(OwnedBytes(byteCount: size.bytes, keyCount: size.key) { bytes.fill($0, args) }, write), shape)
        case .operation(let operation):
            return .write(operation, .standard)
        case .read(let handle):
            return .keyspace(handle, OwnedArguments(args))
        }
    }
}

/// Which of a command's arguments a write carries, laid out as `StoredWrite` reads them: a key and a
/// value, or keys and pairs packed as the native protocol packs them (`PackedWriter`).
enum WriteBytes: Sendable {
    /// Argument `key` alone.
    case key(Int)
    /// Arguments `key` and `value` (RENAME and COPY: the source and the target).
    case keyValue(Int, Int)
    /// The arguments from `from` on that LMDB can hold, packed as keys (DEL of several keys).
    case packedKeys(from: Int)
    /// The arguments from `from` on, packed as key-value pairs (MSET).
    case packedPairs(from: Int)
    /// Every argument, the command's name included, packed (`PackedArguments`): a command that applies
    /// itself (`StoredWrite.command`) reads them as its handler did.
    case arguments

    /// The laid-out size, and how many of its first bytes are the key part.
    func size(_ args: RESPArguments) -> (bytes: Int, key: Int) {
        switch self {
        case .key(let k):
            return (args[k].count, args[k].count)
        case .keyValue(let k, let v):
            return (args[k].count + args[v].count, args[k].count)
        case .packedKeys(let from):
            var size = 0
            for i in from..<args.count where StoreLayout.check(key: args[i]) == nil { size += PackedWriter.size(key: args[i]) }
            return (size, size)
        case .packedPairs(let from):
            var size = 0
            for i in stride(from: from, to: args.count - 1, by: 2) {
                size += PackedWriter.size(key: args[i]) + PackedWriter.size(value: args[i + 1])
            }
            return (size, size)
        case .arguments:
            let size = PackedArguments.size(args)
            return (size, size)
        }
    }

    /// Copies the arguments into `buffer`, which holds `size(args).bytes`.
    func fill(_ buffer: UnsafeMutableRawBufferPointer, _ args: RESPArguments) {
        switch self {
        case .key(let k):
            _ = buffer.storePair(args[k], UnsafeRawBufferPointer(start: nil, count: 0))
        case .keyValue(let k, let v):
            _ = buffer.storePair(args[k], args[v])
        case .packedKeys(let from):
            var packed = PackedWriter(buffer)
            for i in from..<args.count where StoreLayout.check(key: args[i]) == nil { packed.key(args[i]) }
        case .packedPairs(let from):
            var packed = PackedWriter(buffer)
            for i in stride(from: from, to: args.count - 1, by: 2) {
                packed.key(args[i])
                packed.value(args[i + 1])
            }
        case .arguments:
            PackedArguments.fill(buffer, args)
        }
    }
}

extension ServerConnection {
    /// Queues `write` with the arguments `bytes` names copied into the reactor's write arena (no
    /// allocation); false once the daemon stops.
    func submit(_ write: StoredWrite, _ bytes: WriteBytes, of args: RESPArguments, route: ReplyRoute) -> Bool {
        let size = bytes.size(args)
        return submit(write, byteCount: size.bytes, keyCount: size.key, route: route) { bytes.fill($0, args) }
    }
}

/// One run of a write handler: the arguments and the server's settings it checks them against.
struct WriteCall {
    let args: RESPArguments
    // Invariant: the server context lives as long as the process's server, longer than any request.
    unowned(unsafe) let context: ServerContext
    /// The numbered database the connection has selected.
    var database: UInt8 = 0
    /// The connection's user when it is restricted (nil: unrestricted): a script checks each command
    /// it calls against it.
    var user: User? = nil
    /// The command comes from the primary this daemon replicates (a read-only replica runs its writes).
    var fromPrimary = false
    /// The time relative deadlines count from: a script's calls all see its batch's moment (as Redis
    /// freezes the time for a script); nil: the wall clock now.
    var now: Int64? = nil

    var clock: Int64 { now ?? WallClock.milliseconds() }

    /// Why argument `i` cannot be a key, in ShmKV's words (nil: it can).
    func keyProblem(_ i: Int) -> String? {
        switch StoreLayout.check(key: args[i]) {
        case nil: nil
        case .empty: "ERR empty keys are not supported by ShmKV"
        case .tooLong(let n): "ERR key of \(n) bytes exceeds the maximum of \(StoreLayout.maxKeySize) bytes"
        }
    }

    /// Why argument `i` cannot be a value (nil: it can).
    func valueProblem(_ i: Int) -> String? {
        let max = context.configuration.maxValueSize
        return args[i].count > max ? "ERR value of \(args[i].count) bytes exceeds the maximum of \(max) bytes" : nil
    }

    /// Redis's arity error for the command (MSET with an odd number of arguments).
    var wrongArity: WritePlan { .error(.wrongArity(args.string(0).lowercased())) }
}

/// A handler that checks a write's arguments and says what it asks for (see `CommandHandler.write`).
typealias WriteHandler = @Sendable (WriteCall) -> WritePlan
