/// The flags a script declares in its shebang (`#!lua flags=no-writes,allow-oom`) or a function in
/// `redis.register_function`, as Redis 7.0's `scripts_flags_def`, in its order.
struct ScriptFlags: OptionSet, Sendable {
    let rawValue: UInt8
    static let noWrites = ScriptFlags(rawValue: 1 << 0)
    static let allowOOM = ScriptFlags(rawValue: 1 << 1)
    static let allowStale = ScriptFlags(rawValue: 1 << 2)
    static let noCluster = ScriptFlags(rawValue: 1 << 3)
    static let allowCrossSlot = ScriptFlags(rawValue: 1 << 4)

    static let names: [(ScriptFlags, String)] = [
        (.noWrites, "no-writes"), (.allowOOM, "allow-oom"), (.allowStale, "allow-stale"), (.noCluster, "no-cluster"),
        (.allowCrossSlot, "allow-cross-slot-keys"),
    ]

    var names: [String] { ScriptFlags.names.filter { contains($0.0) }.map(\.1) }

    /// The flag named `name` (exactly, as EVAL's shebang; `ignoringCase` as register_function's).
    static func named(_ name: some StringProtocol, ignoringCase: Bool = false) -> ScriptFlags? {
        names.first { ignoringCase ? $0.1.lowercased() == name.lowercased() : $0.1 == name }?.0
    }

    /// The words of a shebang line up to its newline (empty when its quotes do not balance), and the
    /// line's length; nil when `body` has no newline.
    static func shebangWords(_ body: [UInt8]) -> (words: [String], length: Int)? {
        guard let end = body.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return ((splitArguments(body[..<end]) ?? []).map { String(decoding: $0, as: UTF8.self) }, end)
    }

    /// Redis's `sdssplitargs`: words separated by blanks, "double quotes" with \\ \" \n \r \t \b \a
    /// and \xHH escapes, 'single quotes' with \' only; a closing quote must end its word. Nil when a
    /// quote is not closed or is followed by more of the word.
    static func splitArguments(_ line: ArraySlice<UInt8>) -> [[UInt8]]? {
        let blank: Set<UInt8> = [0x20, 0x0a, 0x0d, 0x09, 0x00]
        var words: [[UInt8]] = []
        var i = line.startIndex
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        while true {
            while i < line.endIndex, blank.contains(line[i]) { i += 1 }
            guard i < line.endIndex else { return words }
            var word: [UInt8] = [], double = false, single = false
            wordLoop: while true {
                guard i < line.endIndex else {
                    if double || single { return nil }
                    break
                }
                let c = line[i]
                if double {
                    if c == 0x5c, i + 3 < line.endIndex, line[i + 1] == 0x78, let h = hex(line[i + 2]), let l = hex(line[i + 3]) {
                        word.append(h << 4 | l)
                        i += 3
                    } else if c == 0x5c, i + 1 < line.endIndex {
                        i += 1
                        let escapes: [UInt8: UInt8] = [0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07]
                        word.append(escapes[line[i]] ?? line[i])
                    } else if c == 0x22 {
                        if i + 1 < line.endIndex, !blank.contains(line[i + 1]) { return nil }
                        i += 1
                        break wordLoop
                    } else {
                        word.append(c)
                    }
                } else if single {
                    if c == 0x5c, i + 1 < line.endIndex, line[i + 1] == 0x27 {
                        i += 1
                        word.append(0x27)
                    } else if c == 0x27 {
                        if i + 1 < line.endIndex, !blank.contains(line[i + 1]) { return nil }
                        i += 1
                        break wordLoop
                    } else {
                        word.append(c)
                    }
                } else if blank.contains(c) {
                    break wordLoop
                } else if c == 0x22 {
                    double = true
                } else if c == 0x27 {
                    single = true
                } else {
                    word.append(c)
                }
                i += 1
            }
            words.append(word)
        }
    }

    /// EVAL's shebang (Redis's `evalExtractShebangFlags`): nil flags for a script without one (Redis's
    /// compatibility mode), and the length of the line to blank out before compiling; or the error.
    static func shebang(_ body: [UInt8]) -> Result<(flags: ScriptFlags?, length: Int), RESPError> {
        guard body.starts(with: [UInt8(ascii: "#"), UInt8(ascii: "!")]) else { return .success((nil, 0)) }
        guard let (words, length) = shebangWords(body) else { return .failure(RESPError(message: "ERR Invalid script shebang")) }
        guard let engine = words.first else { return .failure(RESPError(message: "ERR Invalid engine in script shebang")) }
        guard engine == "#!lua" else { return .failure(RESPError(message: "ERR Unexpected engine in script shebang: \(engine)")) }
        var flags: ScriptFlags = []
        for word in words.dropFirst() {
            guard word.hasPrefix("flags=") else { return .failure(RESPError(message: "ERR Unknown lua shebang option: \(word)")) }
            let list = word.dropFirst(6)
            for name in list.isEmpty ? [] : list.split(separator: ",", omittingEmptySubsequences: false) {
                guard let flag = named(name) else { return .failure(RESPError(message: "ERR Unexpected flag in script shebang: \(name)")) }
                flags.insert(flag)
            }
        }
        return .success((flags, length))
    }
}
