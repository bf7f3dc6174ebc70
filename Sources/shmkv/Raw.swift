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
            shmkv's own goes to the daemon as it is. Replies look like redis-cli's: typed and quoted on a \
            terminal, bare values in a pipe (--raw / --no-raw choose). An error reply exits with status 2. \
            With no command: an interactive prompt with line editing and history ($SHMKV_HISTFILE, default \
            ~/.shmkv_history) on a terminal, one command per line from a pipe.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Flag(name: .customLong("raw"), help: "Print bare values even on a terminal.") var rawOutput = false
    @Flag(name: .customLong("no-raw"), help: "Print typed, quoted replies even into a pipe.") var typedOutput = false
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []

    func validate() throws {
        if rawOutput && typedOutput { throw ValidationError("--raw and --no-raw exclude each other") }
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
        if case .error = reply { return true }
        return false
    }

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
