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
        guard !leading.isEmpty else { return arguments }
        let rest = arguments[index...]
        let subcommands = Set(ShmKVCLI.configuration.subcommands.map { $0._commandName })
        if let first = rest.first, subcommands.contains(first) { return [first] + leading + rest.dropFirst() }
        return [Raw._commandName] + leading + rest
    }
}
