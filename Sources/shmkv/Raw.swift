import ArgumentParser
import CEdit
import Foundation
import ShmKV
import Wire

/// Any command, sent over RESP and printed as redis-cli prints it; with no command, a prompt.
struct Raw: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send any command to the daemon and print its reply as redis-cli does (the default subcommand).",
        discussion: """
            'shmkv CONFIG GET maxclients' is 'shmkv raw CONFIG GET maxclients': a command that is not one of \
            shmkv's own goes to the daemon as it is. Options come before the command, as with redis-cli \
            ('shmkv --port 7379 DBSIZE'); every word after the command is the command's, and one that is \
            a shmkv option (--port, --json …) is refused rather than sent: put '--' before the command to \
            send such words ('shmkv --port 7379 -- SET k --port'). Replies look like redis-cli's: typed and quoted on a \
            terminal, bare values in a pipe (--raw / --no-raw choose). An error reply exits with status 2. \
            With no command: an interactive prompt with line editing and history ($SHMKV_HISTFILE, default \
            ~/.shmkv_history) on a terminal, one command per line from a pipe.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Flag(name: .customLong("raw"), help: "Print bare values even on a terminal.") var rawOutput = false
    @Flag(name: .customLong("no-raw"), help: "Print typed, quoted replies even into a pipe.") var typedOutput = false
    @Flag(name: .customLong("literal-command"), help: .hidden) var literal = false
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []

    /// What `--` before a command becomes: its words are sent as they are, options' names included.
    static let literalFlag = "--literal-command"

    func validate() throws {
        if rawOutput && typedOutput { throw ValidationError("--raw and --no-raw exclude each other") }
        if !literal, let first = command.first, let option = command.dropFirst().first(where: CommandLine.isOption) {
            throw ValidationError("""
                \(option) comes after the command \(first), where it would be sent to the server as an argument: \
                options go before the command (shmkv \(option) … \(first) …); to send it as an argument, put -- \
                before the command (shmkv … -- \(command.joined(separator: " ")))
                """)
        }
    }

    /// Typed output: asked for, or stdout is a terminal and bare output was not asked for.
    var typed: Bool { typedOutput || (!rawOutput && isatty(1) != 0) }

    func run() async throws {
        let options = connection
        var session = try Session(options: options, typed: typed)
        if !command.isEmpty {
            let failed = try session.run(command.map { Array($0.utf8) })
            if failed { throw ExitCode(ExitStatus.serverOrConnection) }
            return
        }
        if isatty(0) != 0 {
            try session.interact()
        } else {
            var failed = false
            while let line = readLine(strippingNewline: true) {
                guard let arguments = Session.split(line) else { Display.error("Invalid argument(s)"); failed = true; continue }
                if arguments.isEmpty { continue }
                if Session.isHelp(line) { Display.writeRaw(Array(Session.promptHelp.utf8)); continue }
                if try session.run(arguments) { failed = true }
            }
            if failed { throw ExitCode(ExitStatus.serverOrConnection) }
        }
    }
}

/// One RESP connection and how its replies are printed.
struct Session {
    let options: ConnectionOptions
    let typed: Bool
    private var client: RESPClient?

    init(options: ConnectionOptions, typed: Bool) throws {
        self.options = options
        self.typed = typed
        client = try connect()
    }

    private func connect() throws -> RESPClient {
        do {
            return try RESPClient(address: options.address, timeoutSeconds: options.timeout,
                                  credentials: try options.credentials())
        } catch let error as ShmKVError {
            Display.error("\(error)")
            throw ExitCode(ExitStatus.serverOrConnection)
        }
    }

    /// Sends one command and prints its reply; true when the reply was an error. A broken connection is
    /// reported and made again for the next command.
    mutating func run(_ arguments: [[UInt8]]) throws -> Bool {
        if client == nil { client = try connect() }
        let reply: RESPReply
        do {
            reply = try client!.command(arguments)
        } catch {
            client = nil
            Display.error("\(error)")
            return true
        }
        if options.json {
            Display.printJSON(Session.json(reply))
        } else {
            Display.writeRaw(reply.redisCLIText(tty: typed))
        }
        if case .error(let message) = reply {
            if message.hasPrefix("ERR unknown command"), let name = arguments.first,
               let nearest = Session.nearestSubcommand(to: String(decoding: name, as: UTF8.self)) {
                Display.error("\(String(decoding: name, as: UTF8.self)) is not a command of the daemon nor of shmkv; did you mean 'shmkv \(nearest)'?")
            }
            return true
        }
        return false
    }

    /// The shmkv subcommand closest to `word` (at most two edits, not the word itself), for typos
    /// (`gett` → `get`).
    static func nearestSubcommand(to word: String) -> String? {
        let names = ShmKVCLI.configuration.subcommands.map { $0._commandName }.filter { $0 != Raw._commandName }
        let lower = word.lowercased()
        // One edit, or two in a word of five letters or more: `help` is not a typo of `del`.
        let scored = names.map { ($0, editDistance(Array(lower), Array($0))) }
            .filter { $0.1 > 0 && ($0.1 == 1 || ($0.1 == 2 && lower.count >= 5)) }
        return scored.min { $0.1 < $1.1 }?.0
    }

    /// Edit distance between two short words: insertions, deletions, substitutions and swaps of two
    /// neighbours (`sacn` → `scan` is one edit).
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in stride(from: 1, through: a.count, by: 1) {
            for j in stride(from: 1, through: b.count, by: 1) {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }

    /// Whether a line of the prompt (or of piped input) asks for help, which shmkv answers itself.
    static func isHelp(_ line: String) -> Bool {
        let word = line.trimmingCharacters(in: .whitespaces).lowercased()
        return word == "help" || word.hasPrefix("help ")
    }

    /// What `help` at the prompt prints (it is not sent to the daemon).
    static let promptHelp = """
        Type a command and its arguments to send it to the daemon, as with redis-cli (quote with "…" or '…').
        COMMAND DOCS <name> describes a command; COMMAND LIST lists them all.
        quit or exit leaves; 'shmkv --help' lists shmkv's own subcommands (get, put, watch, backup …).

        """

    /// The prompt: `ADDRESS> `, libedit's line editing, history kept in a file between sessions.
    mutating func interact() throws {
        let history = ProcessInfo.processInfo.environment["SHMKV_HISTFILE"]
            ?? ProcessInfo.processInfo.environment["HOME"].map { $0 + "/.shmkv_history" }
        using_history()
        stifle_history(1000)
        if let history { _ = read_history(history) }
        let prompt = "\(options.address)> "
        while let raw = readline(prompt) {
            let line = String(cString: raw)
            free(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            _ = add_history(line)
            if let history { _ = write_history(history) }
            if trimmed.lowercased() == "quit" || trimmed.lowercased() == "exit" { break }
            if Session.isHelp(trimmed) {
                Display.writeRaw(Array(Session.promptHelp.utf8))
                continue
            }
            guard let arguments = Session.split(line) else {
                Display.error("Invalid argument(s)")
                continue
            }
            _ = try run(arguments)
        }
    }

    /// A line split as redis-cli splits it (Redis's `sdssplitargs`: spaces, "double quotes" with
    /// escapes, 'single quotes'); nil when the quotes do not balance.
    static func split(_ line: String) -> [[UInt8]]? {
        // The leading space keeps a line that starts with '*' from being read as a multibulk header.
        let bytes = [0x20] + Array(line.utf8) + [10]
        var ranges: [Range<Int>] = []
        var scratch: [UInt8] = []
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(RESPProtocolError) in
                try RESPDecoder.decode(raw, limits: RESPLimits(), arguments: &ranges, scratch: &scratch)
            }
        }
        guard case .success(.command) = result else { return nil }
        return ranges.map { Array(scratch[$0]) }
    }

    /// A JSON value for a reply: strings as text (or `{"base64": …}`), integers, null, arrays, and
    /// `{"error": text}`.
    static func json(_ reply: RESPReply) -> Any {
        switch reply {
        case .simple(let text): text
        case .error(let text): ["error": text]
        case .integer(let n): n
        case .bulk(let bytes): Display.json(bytes)
        case .null: NSNull()
        case .array(let elements): elements.map(json)
        }
    }
}
