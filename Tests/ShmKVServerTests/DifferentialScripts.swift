/// The scripting part of the differential streams: a few commands the streams would send alone (any
/// type, right and wrong arguments) run inside one EVAL through `redis.pcall` — or `redis.call`, whose
/// first error ends the script — and the script returns their replies as a table, so every conversion
/// of a reply to Lua and back is compared. The words go in ARGV, so that few distinct bodies are cached;
/// EVAL_RO runs them too (a write then fails inside).
extension StreamGenerator {
    /// Commands whose replies are not the same from a script in both servers by nature (reference
    /// counts count the script's own arguments) or that a script may not send.
    private static let notInScripts: Set<String> = ["OBJECT", "WAIT", "SWAPDB", "FLUSHALL", "FLUSHDB"]

    mutating func scriptStep() -> [Step] {
        var commands: [[String]] = []
        var attempts = 0
        while commands.count < Int.random(in: 1...4, using: &rng) && attempts < 20 {
            attempts += 1
            for step in next(transactions: false)
            where step.connection == 0 && step.queued.isEmpty && StreamGenerator.queueable(step.words)
                && !StreamGenerator.notInScripts.contains(step.words[0].uppercased()) {
                guard case .exact = step.comparison else { continue }
                commands.append(step.words)
            }
        }
        guard !commands.isEmpty else { return [] }
        let call = chance(0.8) ? "redis.pcall" : "redis.call"
        var body = "local r = {}\n"
        var first = 1
        for (i, words) in commands.enumerated() {
            body += "r[\(i + 1)] = \(call)(unpack(ARGV, \(first), \(first + words.count - 1)))\n"
            first += words.count
        }
        body += chance(0.2) ? "return r[1]\n" : "return r\n"
        // A script may write any key it names: their encodings are no longer known.
        uncertainEncoding.formUnion(allKeys)
        return [Step(connection: 0, words: [chance(0.85) ? "EVAL" : "EVAL_RO", body, "0"] + commands.flatMap { $0 }, comparison: .exact)]
    }
}
