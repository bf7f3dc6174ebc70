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

    /// The words of a shebang line up to its newline (Redis splits it with `sdssplitargs`; ShmKV on
    /// spaces and tabs), and the line's length; nil when `body` has no newline.
    static func shebangWords(_ body: [UInt8]) -> (words: [String], length: Int)? {
        guard let end = body.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let words = body[..<end].split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") })
        return (words.map { String(decoding: $0, as: UTF8.self) }, end)
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
