import ArgumentParser

extension CommandLine {
    /// Connection and output options people put before the command, as with redis-cli
    /// (`redis-cli -p 7379 get a`): those taking a value, and flags.
    static let leadingValueOptions: Set<String> = ["--socket", "--host", "--port", "--timeout", "--password-file", "--user"]
    static let leadingFlags: Set<String> = ["--json", "--raw", "--no-raw"]

    /// `arguments` with the options before the subcommand moved after its name, where ArgumentParser
    /// reads them (`--socket S get a` → `get --socket S a`); a command that is not one of shmkv's own
    /// goes to `raw` (`--socket S CONFIG GET x` → `raw --socket S CONFIG GET x`). Only the order
    /// changes: ArgumentParser still parses and validates every option.
    ///
    /// The one rule, redis-cli's: options come before the command; after a command sent to the daemon,
    /// every word is the command's. A word there that is one of shmkv's options is refused (`Raw`'s
    /// validation), never sent and never taken as an option; `--` before the command sends such words
    /// as they are (`shmkv --port P -- SET k --port`).
    static func reordered(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = String(argument.prefix { $0 != "=" })
            if leadingValueOptions.contains(name) {
                leading.append(argument)
                if name == argument && index + 1 < arguments.count {
                    leading.append(arguments[index + 1])
                    index += 1
                }
            } else if leadingFlags.contains(argument) {
                leading.append(argument)
            } else {
                break
            }
            index += 1
        }
        let rest = arguments[index...]
        let subcommands = Set(ShmKVCLI.configuration.subcommands.map { $0._commandName })
        if let first = rest.first, subcommands.contains(first), first != Raw._commandName {
            return [first] + leading + rest.dropFirst()
        }
        // A command for the daemon (or `raw` itself): what follows it is passed through as it is.
        var command = Array(rest)
        if command.first == Raw._commandName { command.removeFirst() }
        if command.first == "--" {
            command.removeFirst()
            return [Raw._commandName] + leading + [Raw.literalFlag] + command
        }
        // Nothing moved: ArgumentParser's own reading (--help, --version, the default subcommand).
        guard !leading.isEmpty else { return arguments }
        return [Raw._commandName] + leading + command
    }

    /// Whether `word` is one of shmkv's options (`--port`, `--port=1`, `--json` …), which must come before
    /// a command sent to the daemon.
    static func isOption(_ word: String) -> Bool {
        let name = String(word.prefix { $0 != "=" })
        return leadingValueOptions.contains(name) || leadingFlags.contains(word)
    }
}
