import Foundation
import TestSupport
import Testing

/// Real job-queue libraries from PyPI (installed by `make test` in .build/pyvenv) run unchanged against
/// the daemon: their workers block on lists (BRPOP) and their results come back through it.
@Suite("Job-queue libraries from PyPI against the daemon")
struct QueueLibraryTests {
    private static let helpers = FileManager.default.currentDirectoryPath + "/Tests/Helpers/queues"

    @Test("a Celery app on the Redis broker and result backend: tasks, failures, countdowns and a chain end to end")
    func celery() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        guard let python = redisPyPython() else { return }
        let url = "redis://127.0.0.1:\(daemon.tcpPort)/2"
        let celery = (python as NSString).deletingLastPathComponent + "/celery"
        // One worker process (solo pool) consuming with BRPOP; killed by `deinit` if the test fails first.
        let worker = try ChildProcess(celery, ["--workdir", QueueLibraryTests.helpers, "-A", "celery_app", "worker", "--pool=solo",
                                              "--concurrency=1", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
                                              "--without-heartbeat"], environment: ["REDIS_URL": url])
        defer { kill(worker.pid, SIGTERM); _ = worker.wait(timeoutSeconds: 30) }
        let run = try runProcess(python, [QueueLibraryTests.helpers + "/celery_run.py"], environment: ["REDIS_URL": url, "TASKS": "200"],
                                 timeoutSeconds: 300)
        #expect(run.status == 0, "celery_run.py: \(run.stderr.suffix(3000))")
        #expect(run.stdout.contains("\"ok\": 200, \"failed\": 20, \"delayed\": 5, \"chain\": 113"), "\(run.stdout)")
    }

    @Test("a python-rq queue with a burst worker: 300 jobs, some failing, some scheduled, one depending on another, unique ones refused twice (Lua); every result and registry right")
    func pythonRQ() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        guard let python = redisPyPython() else { return }
        let run = try runProcess(python, [QueueLibraryTests.helpers + "/rq_jobs.py"],
                                 environment: ["REDIS_URL": "redis://127.0.0.1:\(daemon.tcpPort)/3", "JOBS": "300"], timeoutSeconds: 300)
        #expect(run.status == 0, "rq_jobs.py: \(run.stderr.suffix(3000))")
        #expect(run.stdout.contains("{\"found\": {\"ok\": 240, \"fail\": 30, \"scheduled\": 30}, \"unique\": 2, \"failed_registry\": 30, \"finished_registry\": 274}"),
                "\(run.stdout)")
    }
}
