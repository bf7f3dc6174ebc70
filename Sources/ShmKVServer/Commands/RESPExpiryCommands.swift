import Posix
import StoreLayout
import Wire

/// The options SET and GETEX share (Redis's `parseExtendedStringArgumentsOrReply`): a condition, GET,
/// and one way to set the deadline.
struct StringOptions {
    /// Which command parses them: SET takes NX, XX, GET and KEEPTTL; GETEX takes PERSIST.
    enum Command { case set, getex }

    var condition = PutCondition.always
    var returnOld = false
    var keepTTL = false
    var persist = false
    /// EX, PX, EXAT or PXAT with the index of its argument.
    var expiry: (seconds: Bool, absolute: Bool, argument: Int)?

    /// Parses arguments from `first` on; nil after a syntax error (Redis's rules: an option may repeat,
    /// the conflicting ones may not meet).
    init?(_ args: RESPArguments, from first: Int, for command: Command) {
        var i = first
        while i < args.count {
            let hasNext = i + 1 < args.count
            if command == .set, args.is(i, "NX"), condition != .ifPresent { condition = .ifAbsent }
            else if command == .set, args.is(i, "XX"), condition != .ifAbsent { condition = .ifPresent }
            else if command == .set, args.is(i, "GET") { returnOld = true }
            else if command == .set, args.is(i, "KEEPTTL"), !persist, expiry == nil { keepTTL = true }
            else if command == .getex, args.is(i, "PERSIST"), !keepTTL, expiry == nil { persist = true }
            else if hasNext, !keepTTL, !persist, let kind = StringOptions.expiryKind(args, i) {
                if let current = expiry, current.seconds != kind.seconds || current.absolute != kind.absolute { return nil }
                expiry = (kind.seconds, kind.absolute, i + 1)
                i += 1
            } else {
                return nil
            }
            i += 1
        }
    }

    private static func expiryKind(_ args: RESPArguments, _ i: Int) -> (seconds: Bool, absolute: Bool)? {
        if args.is(i, "EX") { return (true, false) }
        if args.is(i, "PX") { return (false, false) }
        if args.is(i, "EXAT") { return (true, true) }
        if args.is(i, "PXAT") { return (false, true) }
        return nil
    }

    /// The deadline the options ask for, as `DeadlineChange`, or the error Redis replies.
    func deadline(_ args: RESPArguments, command: String, now: Int64) -> Result<DeadlineChange, RESPError> {
        guard let expiry else { return .success(keepTTL || command == "getex" && !persist ? .keep : .remove) }
        guard let n = args.integer(expiry.argument) else { return .failure(.notInteger) }
        return StringOptions.positiveDeadline(n, seconds: expiry.seconds, absolute: expiry.absolute, command: command, now: now).map { .at($0) }
    }
}

/// An error reply as Redis words it.
struct RESPError: Error {
    let message: String
    static let notInteger = RESPError(message: "ERR value is not an integer or out of range")
    static let syntax = RESPError(message: "ERR syntax error")
    static func invalidExpireTime(_ command: String) -> RESPError {
        RESPError(message: "ERR invalid expire time in '\(command)' command")
    }
    /// Redis's arity error for `name` (lower case: `set`, or `config|get` for a subcommand).
    static func wrongArity(_ name: String) -> RESPError {
        RESPError(message: "ERR wrong number of arguments for '\(name)' command")
    }
}

/// The expiry commands: SET's expiry options (through `StringOptions`), SETEX, PSETEX, GETEX, EXPIRE,
/// PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST (TOUCH is EXISTS: no
/// access times are kept). Relative times are made absolute here, with the reactor's wall clock; the
/// writer compares them with its own.
extension StringOptions {
    /// Redis's `getExpireMillisecondsOrReply`: a time that must be positive, in seconds or milliseconds,
    /// relative or absolute, as an absolute deadline in milliseconds; overflow is an invalid time.
    static func positiveDeadline(_ n: Int64, seconds: Bool, absolute: Bool, command: String, now: Int64) -> Result<Int64, RESPError> {
        guard n > 0, !seconds || n <= Int64.max / 1000 else { return .failure(.invalidExpireTime(command)) }
        let milliseconds = seconds ? n * 1000 : n
        if absolute { return .success(milliseconds) }
        let (at, overflow) = milliseconds.addingReportingOverflow(now)
        return overflow ? .failure(.invalidExpireTime(command)) : .success(at)
    }
}

extension StringCommands {
    /// SETEX key seconds value and PSETEX key milliseconds value.
    static func setEx(seconds: Bool) -> WriteHandler {
        { c in
            let command = seconds ? "setex" : "psetex"
            guard let n = c.args.integer(2) else { return .error(.notInteger) }
            let deadline: Int64
            switch StringOptions.positiveDeadline(n, seconds: seconds, absolute: false, command: command, now: c.clock) {
            case .success(let at): deadline = at
            case .failure(let error): return .error(error)
            }
            if let problem = c.keyProblem(1) ?? c.valueProblem(3) { return .error(problem) }
            return .write(.put(condition: .always, returnOld: false, deadline: .at(deadline)), .keyValue(1, 3))
        }
    }

    /// GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]. Without an option it is a read.
    static func getEx(_ c: WriteCall) -> WritePlan {
        guard let options = StringOptions(c.args, from: 2, for: .getex) else { return .error(.syntax) }
        let change: DeadlineChange
        switch options.deadline(c.args, command: "getex", now: c.clock) {
        case .success(let d): change = d
        case .failure(let error):
            // Redis looks the key up (and at its type) before it checks the time: an absent key answers
            // null, a collection WRONGTYPE.
            let message = error.message
            return .read { c in try c.keys.withValue(c.args[1]) { $0 != nil } ? c.reply.error(message) : c.reply.null() }
        }
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .write(.getAndExpire(change), .key(1))
    }
}

extension KeyCommands {
    /// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX | XX | GT | LT] (Redis's `expireGenericCommand`:
    /// any integer, a time not in the future deletes the key).
    static func expire(seconds: Bool, absolute: Bool) -> WriteHandler {
        { c in
            let args = c.args
            var nx = false, xx = false, gt = false, lt = false
            for i in 3..<max(3, args.count) {
                if args.is(i, "NX") { nx = true }
                else if args.is(i, "XX") { xx = true }
                else if args.is(i, "GT") { gt = true }
                else if args.is(i, "LT") { lt = true }
                else { return .error("ERR Unsupported option \(args.string(i))") }
            }
            if nx && (xx || gt || lt) { return .error("ERR NX and XX, GT or LT options at the same time are not compatible") }
            if gt && lt { return .error("ERR GT and LT options at the same time are not compatible") }
            guard var when = args.integer(2) else { return .error(.notInteger) }
            let command = args.string(0).lowercased()
            if seconds {
                guard when <= Int64.max / 1000, when >= Int64.min / 1000 else { return .error(.invalidExpireTime(command)) }
                when *= 1000
            }
            if !absolute {
                let (at, overflow) = when.addingReportingOverflow(c.clock)
                guard !overflow else { return .error(.invalidExpireTime(command)) }
                when = at
            }
            // Redis checks each option in turn, all must hold: XX GT is GT; XX LT needs a deadline too.
            let condition: ExpireCondition = nx ? .noDeadline : gt ? .later : lt ? (xx ? .earlierWithDeadline : .earlier)
                : xx ? .hasDeadline : .always
            // A key LMDB cannot hold does not exist: 0, as for an absent key.
            if c.keyProblem(1) != nil { return .reply(.integer(0)) }
            return .write(.expire(at: when, condition: condition), .key(1))
        }
    }

    /// PERSIST key (a key LMDB cannot hold does not exist: 0).
    static func persist(_ c: WriteCall) -> WritePlan {
        c.keyProblem(1) != nil ? .reply(.integer(0)) : .write(.persist, .key(1))
    }
}

extension KeyCommands {
    /// TTL, PTTL, EXPIRETIME, PEXPIRETIME key: -2 for no key, -1 for no deadline.
    static func ttl(milliseconds: Bool, absolute: Bool) -> KeyspaceHandler {
        { c in
            guard try c.keys.contains(c.args[1]) else { return c.reply.integer(-2) }
            guard let deadline = try c.keys.deadline(of: c.args[1]) else { return c.reply.integer(-1) }
            let left = max(0, absolute ? deadline : deadline - c.keys.now)
            c.reply.integer(milliseconds ? left : Deadline.roundedSeconds(left))
        }
    }
}
