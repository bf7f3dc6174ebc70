/// What the reactors ask of every interpreter at once (on the primary, `ServerContext.scripts`): a
/// script may run on the writer and read-only ones on several reactors at the same moment, where Redis
/// has one. BUSY answers while any of them is busy; SCRIPT KILL and FUNCTION KILL stop every one they
/// may stop; SHUTDOWN reaches them all through `ScriptShared`.
extension ScriptEngine {
    /// The BUSY error for a command that may not run now, or nil (one atomic load while none is busy).
    var busyReply: String? {
        guard shared.busyCount.load(ordering: .acquiring) > 0 else { return nil }
        return engines.lazy.compactMap(\.activity.busyReply).first
    }

    /// The script running now (a function first, for FUNCTION STATS), or nil.
    var running: (function: Bool, name: String, command: [[UInt8]], milliseconds: Int)? {
        let all = engines.compactMap(\.activity.running)
        return all.first { $0.function } ?? all.first
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: nil when the scripts it applies to will stop, else
    /// Redis's refusal, judged as `scriptKill` judges its one script (a script that wrote is
    /// unkillable; the other KILL's words for the other kind).
    func kill(eval: Bool) -> String? {
        let verdicts = engines.compactMap { engine in engine.activity.killVerdict(eval: eval).map { (engine.activity, $0) } }
        guard let first = verdicts.first else { return ScriptActivity.notBusy }
        let killable = verdicts.filter { $0.1 == .killable }
        if !killable.isEmpty {
            for (activity, _) in killable { activity.kill() }
            return nil
        }
        if verdicts.contains(where: { $0.1 == .unkillable }) { return ScriptActivity.unkillable }
        if case .wrongKind(let text) = first.1 { return text }
        return ScriptActivity.notBusy
    }

    /// Memory the reactors' interpreters hold, both kinds (INFO's `shmkv_used_memory_lua_reactors`;
    /// `used_memory_lua` and `used_memory_vm_functions` are the primary's, as Redis has one).
    var readersMemory: Int {
        readers.withLock { $0 }.reduce(0) { $0 + $1.memoryUsed.load(ordering: .relaxed) + $1.functionsMemoryUsed.load(ordering: .relaxed) }
    }
}
