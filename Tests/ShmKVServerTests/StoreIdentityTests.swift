import Foundation
import ShmKV
import TestSupport
import Testing

/// The CLI reads the store of the daemon it was given, never the current directory's ./data; a restored
/// or copied store gets its own identity and ring; a daemon never takes or removes a live daemon's ring.
@Suite struct StoreIdentityTests {
    let cli = Products.path("shmkv")

    /// Two daemons in two directories, and a third directory whose ./data is a stopped daemon's store,
    /// each holding `where` = its own name.
    struct Scene {
        let a: Daemon
        let b: Daemon
        let third: TemporaryDirectory

        init() throws {
            a = try Daemon()
            b = try Daemon()
            third = TemporaryDirectory("shmkv-cwd")
            let c = try Daemon(dataDirectory: third.file("data"))
            for (daemon, name) in [(a, "A"), (b, "B"), (c, "C")] {
                let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
                _ = try client.put("where", name)
                client.close()
            }
            c.stop()
        }

        func stop() {
            a.stop()
            b.stop()
            third.remove()
        }
    }

    func run(_ scene: Scene, _ arguments: [String]) throws -> ProcessResult {
        try runProcess(cli, arguments, currentDirectory: scene.third.path, timeoutSeconds: 60)
    }

    /// The absolute path a daemon reports as its directory.
    func resolved(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().path }

    @Test("get --local, scan --local, ttl --local, dump --local and backup read the named daemon's store over TCP and Unix sockets, and name it")
    func localReadsFollowTheNamedDaemon() throws {
        let scene = try Scene()
        defer { scene.stop() }
        for (daemon, name) in [(scene.a, "A"), (scene.b, "B")] {
            for to in [["--port", String(daemon.tcpPort)], ["--host", daemon.tcpHost, "--port", String(daemon.tcpPort)],
                       ["--socket", daemon.socketPath]] {
                let get = try run(scene, to + ["get", "--local", "where"])
                #expect(get.stdout == "\(name)\n", "\(to): \(get.stderr)")
                #expect(get.stderr.contains(resolved(daemon.dataDirectory)), "\(to): \(get.stderr)")
                let scan = try run(scene, ["scan", "--local", "--keys-only"] + to)
                #expect(scan.stdout == "where\n", "\(to): \(scan.stderr)")
                #expect(try run(scene, ["ttl", "--local", "where"] + to).stdout == "persistent\n")
                let dump = try run(scene, ["dump", "--local"] + to)
                #expect(dump.stdout == "{\"key\":\"where\",\"value\":\"\(name)\"}\n", "\(to): \(dump.stderr)")
            }
            let destination = scene.third.file("backup-\(name)")
            let backup = try run(scene, ["--port", String(daemon.tcpPort), "backup", destination])
            #expect(backup.status == 0, "\(backup.stderr)")
            #expect(backup.stderr.contains("from \(resolved(daemon.dataDirectory))"), "\(backup.stderr)")
            #expect(try LocalStore(directory: destination).get("where") == Array(name.utf8))
        }
        // A directory named with no daemon named is read as it lies.
        let plain = try run(scene, ["get", "--data-dir", "data", "where"])
        #expect(plain.stdout == "C\n", "\(plain.stderr)")
    }

    @Test("a data directory that is not the named daemon's store is refused with a clear error")
    func aForeignDirectoryIsRefused() throws {
        let scene = try Scene()
        defer { scene.stop() }
        let wrong = try run(scene, ["get", "--data-dir", "data", "--port", String(scene.a.tcpPort), "where"])
        #expect(wrong.status == 2 && wrong.stdout.isEmpty)
        #expect(wrong.stderr.contains("is not the store of this daemon"), "\(wrong.stderr)")
        let other = try run(scene, ["backup", "--data-dir", scene.b.dataDirectory, "--socket", scene.a.socketPath, scene.third.file("x")])
        #expect(other.status == 2 && other.stderr.contains("is not the store of this daemon"), "\(other.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scene.third.file("x/data.mdb")))
        // The right pairing passes.
        let right = try run(scene, ["get", "--data-dir", scene.a.dataDirectory, "--port", String(scene.a.tcpPort), "where"])
        #expect(right.stdout == "A\n", "\(right.stderr)")
        // A daemon that cannot be asked is an error, not a silent ./data.
        let nobody = try run(scene, ["get", "--local", "--port", "1", "where"])
        #expect(nobody.status == 2 && nobody.stderr.contains("cannot ask the daemon at 127.0.0.1:1 where its data is"), "\(nobody.stderr)")
    }

    @Test("watch and subscribe follow the named daemon's ring, from a directory whose ./data has another store")
    func watchFollowsTheNamedDaemon() throws {
        let scene = try Scene()
        defer { scene.stop() }
        for daemon in [scene.a, scene.b] {
            let watched = try run(scene, ["watch", "--port", String(daemon.tcpPort), "--from", "1", "--count", "1"])
            #expect(watched.stdout == "put 1 where\n", "\(watched.stderr)")
            #expect(watched.stderr.contains("following the ring of \(resolved(daemon.dataDirectory))"), "\(watched.stderr)")
        }
        let subscriber = try ChildProcess(cli, ["subscribe", "--port", String(scene.b.tcpPort), "--count", "1", "news"])
        let client = try Client(socketPath: scene.b.socketPath, timeoutSeconds: 10)
        defer { client.close() }
        var line: String?
        for _ in 0..<100 where line == nil {
            _ = try client.publish(Array("news".utf8), Array("hello".utf8))
            line = subscriber.readLine(timeoutSeconds: 1)
        }
        #expect(line?.hasSuffix(" news hello") == true, "\(String(describing: line))")
        #expect(subscriber.wait() == 0)
    }

    @Test("bench --local reads the named daemon's store, preloaded through it, and times each run with the monotonic clock")
    func benchLocalReadsTheRightStore() throws {
        let scene = try Scene()
        defer { scene.stop() }
        let bench = try run(scene, ["bench", "--port", String(scene.a.tcpPort), "--local", "--keys", "100", "-r", "1000", "-c", "1", "--json"])
        #expect(bench.status == 0, "\(bench.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any]
        #expect((result?["target"] as? String)?.contains(resolved(scene.a.dataDirectory)) == true, "\(bench.stdout)")
        #expect(result?["misses"] as? Int == 0 && result?["requests"] as? Int == 1000)
        // A handful of in-memory reads take microseconds: a rate in 100 ms steps would say 100 per second.
        #expect((result?["seconds"] as? Double ?? 1) < 0.1, "\(bench.stdout)")
        // Without the preload every read misses in B: refused, not a rate of misses.
        let misses = try run(scene, ["bench", "--socket", scene.b.socketPath, "--local", "--no-preload", "--keys", "100", "-r", "100"])
        #expect(misses.status == 2 && misses.stderr.contains("every read missed"), "\(misses.stderr)")
    }

    @Test("a restored backup and a copied data file get their own environment id and ring; stopping the original leaves theirs")
    func copiesGetTheirOwnRing() throws {
        let defaultRing = ["SHMKV_RING_PATH": ""]
        let a = try Daemon(environment: defaultRing)
        defer { a.stop() }
        let scratch = TemporaryDirectory("shmkv-copies")
        defer { scratch.remove() }
        let client = try Client(socketPath: a.socketPath, timeoutSeconds: 10)
        _ = try client.put("k", "from A")
        let backup = try runProcess(cli, ["backup", "--socket", a.socketPath, scratch.file("backup")])
        #expect(backup.status == 0, "\(backup.stderr)")
        let restore = try runProcess(cli, ["restore", scratch.file("backup"), scratch.file("restored")])
        #expect(restore.status == 0, "\(restore.stderr)")
        // Before its daemon starts, the restored store names no ring (not A's).
        #expect(try LocalStore(directory: scratch.file("restored")).statistics().ringPath == nil)
        let aStats = try LocalStore(directory: a.dataDirectory).statistics()
        let restored = try Daemon(dataDirectory: scratch.file("restored"), environment: defaultRing)
        // The backup's own directory, started as it is: a copy of A's data file.
        let copied = try Daemon(dataDirectory: scratch.file("backup"), environment: defaultRing)
        let rings = try [restored, copied].map { try LocalStore(directory: $0.dataDirectory).statistics().ringPath }
        #expect(Set(rings + [aStats.ringPath]).count == 3, "\(rings) \(String(describing: aStats.ringPath))")
        #expect(rings.allSatisfy { $0.map { FileManager.default.fileExists(atPath: $0) } == true })
        // A's watcher sees A's writes only.
        let watcher = try LocalStore(directory: a.dataDirectory).subscribe(prefix: [])
        for daemon in [restored, copied] {
            let other = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
            _ = try other.put("k", "elsewhere")
            other.close()
        }
        _ = try client.put("mine", "A")
        guard case .change(let change)? = watcher.next(timeoutMilliseconds: 10_000) else {
            Issue.record("no event on A's ring")
            return
        }
        #expect(change.key == Array("mine".utf8))
        client.close()
        // Stopping A removes A's ring only.
        #expect(a.stop() == 0)
        #expect(rings.allSatisfy { $0.map { FileManager.default.fileExists(atPath: $0) } == true })
        // (Its numbering goes on from A's, so a watch from 1 first says what it cannot replay.)
        let restoredWatch = try runProcess(cli, ["watch", "--socket", restored.socketPath, "--from", "1", "--count", "2", "k"])
        #expect(restoredWatch.status == 0 && restoredWatch.stdout.contains(" k\n"), "\(restoredWatch.stdout) \(restoredWatch.stderr)")
        #expect(restored.stop() == 0)
        #expect(copied.stop() == 0)
        #expect(copied.stderrText().contains("is a copy of environment"))
    }

    @Test("a daemon refuses a ring that another live daemon owns, and that ring goes on working")
    func aLiveRingIsNotTaken() throws {
        let a = try Daemon()
        defer { a.stop() }
        let ring = a.directory.file("shmkvd.ring")
        do {
            let intruder = try Daemon(environment: ["SHMKV_RING_PATH": ring])
            intruder.stop()
            Issue.record("a second daemon started on a ring that a live daemon owns")
        } catch let DaemonError.didNotStart(status, stderr) {
            #expect(status != 0)
            #expect(stderr.contains("belongs to another running shmkvd (pid \(a.pid))"), "\(stderr)")
        }
        let watched = try LocalStore(directory: a.dataDirectory).subscribe(prefix: [])
        let client = try Client(socketPath: a.socketPath, timeoutSeconds: 10)
        defer { client.close() }
        _ = try client.put("still", "mine")
        guard case .change(let change)? = watched.next(timeoutMilliseconds: 10_000) else {
            Issue.record("A's ring was taken")
            return
        }
        #expect(change.key == Array("still".utf8))
    }
}
