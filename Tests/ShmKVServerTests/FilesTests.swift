import Foundation
import ShmKV
import TestSupport
import Testing

/// Who can touch the daemon's files: modes, the shared group, a directory of another user, and what a
/// clean stop leaves behind.
@Suite("Files and permissions")
struct FilesTests {
    func mode(_ path: String) -> (mode: Int, gid: UInt32)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (Int(st.st_mode & 0o7777), st.st_gid)
    }

    @Test("by default the data directory is 0700 and the LMDB files, the socket and the ring 0600; the ring is gone after a clean stop")
    func privateByDefault() throws {
        // The ring at its default place, /dev/shm/shmkv-<environment id>.ring.
        let daemon = try Daemon(environment: ["SHMKV_RING_PATH": ""])
        let ring = try LocalStore(directory: daemon.dataDirectory).ringPath()
        #expect(ring.hasPrefix("/dev/shm/shmkv-") && ring.hasSuffix(".ring"))
        #expect(mode(daemon.dataDirectory)?.mode == 0o700)
        for file in ["data.mdb", "lock.mdb", "shmkvd.sock"] { #expect(mode(daemon.dataDirectory + "/" + file)?.mode == 0o600, "\(file)") }
        #expect(mode(ring)?.mode == 0o600)
        #expect(daemon.stop() == 0)
        #expect(mode(ring) == nil, "the ring \(ring) is still there after a clean stop")
        #expect(mode(daemon.dataDirectory + "/shmkvd.sock") == nil)
    }

    @Test("with access.group the store is shared with that group, and a reader of that group (another user) reads it locally")
    func sharedWithAGroup() throws {
        let group = "daemon"
        let gid = UInt32(getgrnam(group)!.pointee.gr_gid)
        let daemon = try Daemon(environment: ["SHMKV_ACCESS_GROUP": group])
        defer { daemon.stop() }
        #expect(mode(daemon.dataDirectory).map { $0.mode == 0o750 && $0.gid == gid } == true)
        #expect(mode(daemon.dataDirectory + "/data.mdb").map { $0.mode == 0o640 && $0.gid == gid } == true)
        #expect(mode(daemon.dataDirectory + "/lock.mdb").map { $0.mode == 0o660 && $0.gid == gid } == true)
        #expect(mode(daemon.dataDirectory + "/shmkvd.sock").map { $0.mode == 0o660 && $0.gid == gid } == true)
        #expect(mode(daemon.directory.file("shmkvd.ring")).map { $0.mode == 0o660 && $0.gid == gid } == true)
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put(Array("shared".utf8), Array("yes".utf8))
        // nobody (uid 65534) in the group reads it through the map; without the group it cannot.
        chmod(daemon.directory.path, 0o755)
        let shmkv = Products.path("shmkv")
        let args = ["get", "shared", "--data-dir", daemon.dataDirectory]
        let member = try runProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--groups=\(gid)", shmkv] + args)
        #expect(member.status == 0 && member.stdout == "yes\n", "\(member.stderr)")
        let stranger = try runProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", shmkv] + args)
        #expect(stranger.status != 0)
    }

    @Test("a daemon whose user is not a member of access.group refuses to start and says how to fix it")
    func accessGroupMembershipIsChecked() throws {
        let dir = TemporaryDirectory("shmkv-group")
        defer { dir.remove() }
        chmod(dir.path, 0o755)
        mkdir(dir.file("data"), 0o700)
        chown(dir.file("data"), 65534, 65534)
        let result = try runProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Products.path("shmkvd"),
                                                         "--data-dir", dir.file("data"), "--no-tcp"],
                                    environment: ["SHMKV_ACCESS_GROUP": "daemon", "SHMKV_RING_PATH": dir.file("shmkvd.ring")], timeoutSeconds: 60)
        #expect(result.status != 0)
        #expect(result.stderr.contains("not a member of group daemon"), "\(result.stderr)")
        #expect(result.stderr.contains("usermod -aG daemon nobody") && result.stderr.contains("SupplementaryGroups=daemon"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("data/data.mdb")))
    }

    @Test("a data directory owned by another user is refused")
    func foreignDirectoryIsRefused() throws {
        let dir = TemporaryDirectory("shmkv-foreign")
        defer { dir.remove() }
        mkdir(dir.file("data"), 0o700)
        chown(dir.file("data"), 65534, 65534)
        #expect {
            _ = try Daemon(dataDirectory: dir.file("data"))
        } throws: { "\($0)".contains("is owned by uid 65534, not by this user") }
    }

    @Test("a LocalStore that subscribes while the daemon is down waits for the next daemon's ring")
    func subscriberWaitsForTheRing() throws {
        let first = try Daemon()
        let dataDirectory = first.dataDirectory
        try Client(socketPath: first.socketPath, timeoutSeconds: 10).put(Array("a".utf8), Array("1".utf8))
        first.stop()
        let local = try LocalStore(directory: dataDirectory)
        let subscriber = try local.subscribe()
        #expect(subscriber.next(timeoutMilliseconds: 300) == nil)
        let second = try Daemon(dataDirectory: dataDirectory, environment: ["SHMKV_RING_PATH": first.directory.file("shmkvd.ring")])
        defer { second.stop() }
        try Client(socketPath: second.socketPath, timeoutSeconds: 10).put(Array("b".utf8), Array("2".utf8))
        guard case .change(let change)? = subscriber.next(timeoutMilliseconds: 10_000) else {
            Issue.record("no change arrived within 10 s after the daemon came back")
            return
        }
        #expect(change.key == Array("b".utf8))
        _ = first
    }
}
