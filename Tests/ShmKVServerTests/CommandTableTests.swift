@testable import ShmKVServer
import Testing
import Wire

/// Arguments as the decoder hands them over: views into one buffer.
private func withArguments<R>(_ words: [String], _ body: (RESPArguments) -> R) -> R {
    var bytes: [UInt8] = []
    var ranges: [Range<Int>] = []
    for word in words {
        let start = bytes.count
        bytes += Array(word.utf8)
        ranges.append(start..<bytes.count)
    }
    return bytes.withUnsafeBytes { body(RESPArguments(base: $0, ranges: ranges)) }
}

private func lookup(_ name: String) -> Command? {
    var bytes = Array(name.utf8)
    return bytes.withUnsafeMutableBytes { CommandTable.lookup(UnsafeRawBufferPointer($0))?.takeUnretainedValue() }
}

private func admit(_ words: [String], user: User? = .unrestricted, subscribed: Bool = false) -> RESPSession.Admission {
    withArguments(words) { args in
        let unrestricted = user.map { $0.permissions == .all && !$0.isKeyRestricted } ?? false
        return RESPSession.admit(lookup(words[0]), args, user: user, unrestricted: unrestricted, subscribedRESP2: subscribed)
    }
}

@Suite("The command table and dispatch's checks, without a socket")
struct CommandTableTests {
    @Test("every name and alias is found in any case; unknown, empty and overlong names are not")
    func lookUp() {
        #expect(CommandTable.all.count == 194)
        for command in CommandTable.all {
            for name in [command.name] + command.aliases {
                #expect(lookup(name) === command, "\(name)")
                #expect(lookup(name.uppercased()) === command, "\(name)")
            }
            #expect(command.name == command.name.lowercased())
        }
        #expect(lookup("SuBsTr")?.name == "getrange")
        #expect(lookup("nosuchcommand") == nil)
        #expect(lookup("") == nil)
        #expect(lookup(String(repeating: "g", count: 17)) == nil)
        #expect(lookup("get\0") == nil)
        #expect(Set(CommandTable.all.map(\.name)).count == CommandTable.all.count)
    }

    @Test("a write handler exactly for the commands flagged write; reads are read-only")
    func handlersMatchFlags() {
        for command in CommandTable.all {
            let queues = if case .write = command.handler { true } else { false }
            // PUBLISH, SAVE and the scripting commands are queued (behind the connection's writes; a
            // script runs on the writer) but Redis does not flag them write; EXEC controls the
            // transaction and submits its block itself.
            #expect(queues == (!command.flags.isDisjoint(with: [.write, .publishes]) || command.name == "save" || command.group == .scripting),
                    "\(command.name)")
            #expect(!(command.flags.contains(.write) && command.flags.contains(.readonly)), "\(command.name)")
        }
    }

    @Test("arity as Redis counts it: exact when positive, at least when negative")
    func arity() {
        #expect(admit(["GET", "k"]) == .run)
        #expect(admit(["GET"]) == .wrongArity)
        #expect(admit(["get", "a", "b"]) == .wrongArity)
        #expect(admit(["SET", "k"]) == .wrongArity)
        #expect(admit(["SET", "k", "v", "NX", "GET"]) == .run)
        #expect(admit(["DBSIZE", "x"]) == .wrongArity)
        #expect(admit(["PING"]) == .run)
        #expect(admit(["nosuch", "a"]) == .unknownCommand)
        #expect(admit(["POST", "/", "HTTP/1.1"]) == .crossProtocolAttack)
        #expect(admit(["Host:", "x"]) == .crossProtocolAttack)
    }

    @Test("before AUTH only AUTH, HELLO, PING and QUIT; unknown commands get NOAUTH too")
    func beforeAuth() {
        let allowed = CommandTable.all.filter { $0.flags.contains(.allowedBeforeAuth) }.map(\.name).sorted()
        #expect(allowed == ["auth", "hello", "ping", "quit"])
        #expect(admit(["AUTH", "secret"], user: nil) == .run)
        #expect(admit(["GET", "k"], user: nil) == .refused("NOAUTH Authentication required."))
        #expect(admit(["nosuch"], user: nil) == .refused("NOAUTH Authentication required."))
    }

    @Test("in RESP2 subscribed mode only (P)(UN)SUBSCRIBE, PING, QUIT and RESET")
    func subscribedMode() {
        let allowed = CommandTable.all.filter { $0.flags.contains(.allowedWhileSubscribed) }.map(\.name).sorted()
        #expect(allowed == ["ping", "psubscribe", "punsubscribe", "quit", "reset", "subscribe", "unsubscribe"])
        #expect(admit(["GET", "k"], subscribed: true) == .notAllowedWhileSubscribed)
        #expect(admit(["nosuch"], subscribed: true) == .notAllowedWhileSubscribed)
        #expect(admit(["PING"], subscribed: true) == .run)
    }

    @Test("permissions and key positions from the table: NOPERM names the subcommand, checks every key")
    func permissions() {
        let reader = User(name: "r", passwordDigest: [], permissions: .read, keyPrefixes: [])
        #expect(admit(["GET", "k"], user: reader) == .run)
        #expect(admit(["INFO"], user: reader) == .run)
        #expect(admit(["SET", "k", "v"], user: reader) == .refused("NOPERM this user has no permissions to run the 'set' command"))
        #expect(admit(["CONFIG", "GET", "x"], user: reader)
                == .refused("NOPERM this user has no permissions to run the 'config|get' command"))
        #expect(admit(["ACL", "WHOAMI"], user: reader) == .run)
        #expect(admit(["ACL", "LIST"], user: reader) == .refused("NOPERM this user has no permissions to run the 'acl|list' command"))
        let app = User(name: "app", passwordDigest: [], permissions: .all, keyPrefixes: [Array("app:".utf8)])
        let noKeys = "NOPERM this user has no permissions to access one of the keys used as arguments"
        #expect(admit(["MSET", "app:a", "1", "app:b", "2"], user: app) == .run)
        #expect(admit(["MSET", "app:a", "1", "other", "2"], user: app) == .refused(noKeys))
        // Values are not keys: MSET's step is 2.
        #expect(admit(["MSET", "app:a", "other"], user: app) == .run)
        #expect(admit(["DEL", "app:a", "app:b", "x"], user: app) == .refused(noKeys))
        #expect(admit(["FLUSHDB"], user: app) == .refused(noKeys))
        #expect(admit(["SUBSCRIBE", "c"], user: app)
                == .refused("NOPERM this user has no permissions to access one of the channels used as arguments"))
        #expect(admit(["UNSUBSCRIBE"], user: app) == .run)
    }

    @Test("key positions count from the end when negative")
    func keyPositions() {
        #expect(Array(KeyPositions.all.indices(argumentCount: 4)) == [1, 2, 3])
        #expect(Array(KeyPositions.pairs.indices(argumentCount: 5)) == [1, 3])
        #expect(Array(KeyPositions.single.indices(argumentCount: 3)) == [1])
        #expect(Array(KeyPositions.none.indices(argumentCount: 3)).isEmpty)
        #expect(Array(KeyPositions.single.indices(argumentCount: 1)).isEmpty)
    }

    @Test("COMMAND's flags keep Redis's names and order")
    func redisFlagNames() {
        #expect(lookup("set")?.flags.redisFlagNames == ["write", "denyoom"])
        #expect(lookup("acl")?.flags.redisFlagNames == ["noscript", "loading", "stale"])
        #expect(lookup("unlink")?.flags.redisFlagNames == ["write", "fast"])
    }

    @Test("native opcodes are entries of the same table, checked by the same access rule as RESP commands")
    func nativeEntries() {
        for opcode in Opcode.allCases {
            #expect(CommandTable.native(code: opcode.rawValue)?.opcode == opcode, "\(opcode)")
        }
        #expect(CommandTable.native(code: 0x7F) == nil)
        #expect(Set(CommandTable.native.map(\.name)).count == CommandTable.native.count)
        func refusal(_ opcode: Opcode, _ user: User?, keys: [String] = []) -> AccessRefusal? {
            guard let command = CommandTable.native(code: opcode.rawValue) else { return .noAuth }
            return AccessCheck.refusal(command, name: command.name, needs: command.permission, user: user) { mayAccess in
                keys.allSatisfy { key in Array(key.utf8).withUnsafeBytes { mayAccess($0) } }
            }
        }
        // Before AUTH, PING and AUTH only; while watching or subscribed, PING only.
        #expect(Opcode.allCases.filter { refusal($0, nil) == nil } == [.ping, .auth])
        #expect(CommandTable.native.filter { $0.flags.contains(.allowedWhileSubscribed) }.map(\.opcode) == [.ping])
        // The permissions of their RESP counterparts.
        let reader = User(name: "r", passwordDigest: [], permissions: .read, keyPrefixes: [])
        #expect(Opcode.allCases.filter { refusal($0, reader) != nil } == [.put, .delete, .mput, .incrBy, .expire, .publish, .transaction])
        #expect(refusal(.put, reader) == .noPermCommand("put"))
        let app = User(name: "app", passwordDigest: [], permissions: .all, keyPrefixes: [Array("app:".utf8)])
        #expect(refusal(.mget, app, keys: ["app:a", "app:b"]) == nil)
        #expect(refusal(.mget, app, keys: ["app:a", "b"]) == .noPermKeys)
        #expect(refusal(.subscribe, app) == .noPermChannels)
        #expect(refusal(.scan, app) == nil)
    }
}
