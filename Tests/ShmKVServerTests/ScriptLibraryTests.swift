import Foundation
import TestSupport
import Testing

/// Libraries from PyPI whose Redis paths are Lua scripts (installed by `make test` in .build/pyvenv)
/// run unchanged against the daemon.
@Suite("Lua-based libraries from PyPI against the daemon: redis-py's Lock, the limits rate limiter")
struct ScriptLibraryTests {
    private static let helpers = FileManager.default.currentDirectoryPath + "/Tests/Helpers/scripts"

    @Test("redis-py's Lock (acquire, wait, extend, reacquire, a release by another owner refused, 100 increments from 4 threads) and limits' moving window, sliding window counter and fixed window")
    func lockAndRateLimits() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        guard let python = redisPyPython() else { return }
        let run = try runProcess(python, [ScriptLibraryTests.helpers + "/locks_limits.py"],
                                 environment: ["REDIS_URL": "redis://127.0.0.1:\(daemon.tcpPort)/4"], timeoutSeconds: 300)
        #expect(run.status == 0, "locks_limits.py: \(run.stderr.suffix(3000))")
        #expect(run.stdout.contains("""
            {"counter": 100, "fixed": {"allowed": 5, "remaining": 0}, "lock": "ok", "moving": {"allowed": 5, "remaining": 0}, \
            "sliding": {"allowed": 5, "remaining": 0}}
            """), "\(run.stdout)")
    }
}
