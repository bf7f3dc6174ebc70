import StoreLayout
import Wire

/// One EVAL-family call on its way to the writer: the script (its body, or the SHA1 of one loaded
/// before), its keys and arguments, and who runs it.
struct ScriptInvocation: Sendable {
    enum Source: Sendable {
        case body([UInt8])
        case sha(String)
        /// FCALL, FCALL_RO: a library's function by name.
        case function(String)
    }
    let source: Source
    let keys: [[UInt8]]
    let arguments: [[UInt8]]
    /// EVAL_RO / EVALSHA_RO / FCALL_RO: a write command inside fails.
    let readOnly: Bool
    /// Who runs it (ACL checks of each `redis.call`); nil: unrestricted.
    let user: User?
    let context: ServerContext
    /// The script or function declares `no-writes`: a write command inside fails too.
    var noWrites = false
    /// FCALL's first three arguments as sent (FUNCTION STATS shows the command).
    var invokedAs: [[UInt8]] = []

    var writesRefused: Bool { readOnly || noWrites }
    /// Run by a client of a read-only replica: a write command inside answers READONLY (the primary's
    /// own scripts write).
    var onReadOnlyReplica = false

    /// Whether it runs on the reactor's snapshot rather than the writer: outside MULTI, a script that
    /// cannot write needs no write transaction (nor the writer's turn).
    var runsOnSnapshot: Bool { readOnly || noWrites }

    var byteCount: Int {
        let body = switch source {
        case .body(let bytes): bytes.count
        case .sha: 40
        case .function(let name): name.utf8.count
        }
        return body + keys.reduce(0) { $0 + $1.count } + arguments.reduce(0) { $0 + $1.count }
    }
}

/// What the functions Lua calls back need while a script runs: one per script run, changed in place by
/// each `redis.call`.
final class ScriptRun {
    /// Where its commands read and write: the writer's transaction, or a reactor's snapshot.
    private(set) var keys: Keyspace
    private var snapshotDatabase: Int
    var invocation: ScriptInvocation
    /// `redis.setresp(3)` was called: command replies reach the script as RESP3 types.
    var resp3 = false
    /// An LMDB error met inside `redis.call`: the script is stopped and the error rethrown.
    var failure: (any Error)?
    /// On a reactor: the descriptor of the connection that runs it.
    let descriptor: Int32?

    init(keys: Keyspace, database: Int, invocation: ScriptInvocation, descriptor: Int32? = nil) {
        self.keys = keys
        snapshotDatabase = database
        self.invocation = invocation
        self.descriptor = descriptor
    }

    /// The numbered database its commands address now.
    var database: Int {
        if case .writer(let writer) = keys.source { return writer.pointee.database }
        return snapshotDatabase
    }

    /// SELECT inside the script (for the rest of it only); `reactor` makes a snapshot's reader.
    func select(_ database: Int, reactor: ReactorThread?) throws {
        switch keys.source {
        case .writer(let writer):
            try writer.pointee.select(database)
        case .snapshot:
            guard let reactor else { return }
            keys = Keyspace(.snapshot(try reactor.keyspace(database: UInt8(database))))
            snapshotDatabase = database
        }
    }
}

/// A script stopped by SHUTDOWN NOSAVE (or busy while the daemon stops): nothing it wrote is kept.
struct ScriptStoppedForShutdown: Error, CustomStringConvertible {
    var description: String { "the script was stopped by a shutdown; nothing it wrote was kept" }
}

/// The buffers `redis.call` reuses from call to call.
extension ScriptEngine {
    /// The one reply `body` builds (into the reused builder; a fresh one after a failure, which may
    /// have left an aggregate open).
    func build(_ body: (ResultBuilder) throws -> Void) throws -> CommandResult {
        do {
            try body(builder)
            return builder.takeLast()
        } catch {
            builder = ResultBuilder()
            throw error
        }
    }

    /// Calls `body` with `count` bytes of the reused scratch buffer (a write's bytes; above 1 MiB a
    /// buffer of its own, so that one large value does not stay held).
    func withScratch<R>(_ count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        guard count <= 1 << 20 else {
            var own = [UInt8](repeating: 0, count: count)
            return try own.withUnsafeMutableBytes { try body($0) }
        }
        if scratch.count < count { scratch = [UInt8](repeating: 0, count: max(count, 2 * scratch.count, 256)) }
        return try scratch.withUnsafeMutableBytes { try body(UnsafeMutableRawBufferPointer(rebasing: $0[..<count])) }
    }
}
