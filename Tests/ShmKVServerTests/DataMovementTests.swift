import Foundation
import Locks
import ShmKV
import TestSupport
import Testing

/// Backup, restore, dump and load through the `shmkv` binary, each on a store of 100,000 keys (seeded
/// random values, some keys and values binary), each round trip compared byte for byte.
@Suite struct DataMovementTests {
    let cli = Products.path("shmkv")
    static let seed: UInt64 = 0xDA7A_0001

    /// 100,000 pairs: `k:NNNNNN` keys (every 997th binary, with NUL, newline, 0xFF and a quote), values
    /// of 0 to 200 random bytes (every 3rd plain text).
    static func pairs() -> [KeyValue] {
        var rng = SplitMix64(seed: seed)
        return (0..<100_000).map { i in
            var key = Array(String(format: "k:%06d", i).utf8)
            if i % 997 == 0 { key += [0, 10, 0xFF, UInt8(ascii: "\"")] }
            let length = Int.random(in: 0...200, using: &rng)
            let value: [UInt8] = i % 3 == 0
                ? Array(String(repeating: "v\(i) ", count: length / 8 + 1).utf8)
                : (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return KeyValue(key: key, value: value)
        }
    }

    /// Stores `pairs` through the daemon, 1,000 per atomic MPUT.
    static func fill(_ daemon: Daemon, _ pairs: [KeyValue]) throws {
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 30)
        defer { client.close() }
        for start in stride(from: 0, to: pairs.count, by: 1000) { try client.mput(Array(pairs[start..<min(start + 1000, pairs.count)])) }
    }

    /// Every entry whose key starts with `k:`, read straight from the files of `directory`.
    static func contents(of directory: String) throws -> [KeyValue] {
        let store = try LocalStore(directory: directory)
        return try store.scan(prefix: Array("k:".utf8))
    }

    @Test func backupOfALiveStoreRestoresByteForByte() throws {
        let expected = DataMovementTests.pairs()
        let daemon = try Daemon()
        defer { daemon.stop() }
        try DataMovementTests.fill(daemon, expected)
        // A writer keeps committing while the copies are taken: the copies are still whole snapshots.
        let writing = Locked(true)
        let writer = Thread {
            guard let client = try? Client(socketPath: daemon.socketPath, timeoutSeconds: 30) else { return }
            var i = 0
            while writing.withLock({ $0 }) { _ = try? client.put(Array("live:\(i)".utf8), Array(repeating: 7, count: 100)); i += 1 }
        }
        writer.start()
        let plain = daemon.directory.file("backup-plain")
        let compact = daemon.directory.file("backup-compact")
        let first = try runProcess(cli, ["--socket", daemon.socketPath, "backup", plain, "--progress"])
        let second = try runProcess(cli, ["backup", compact, "--compact", "--data-dir", daemon.dataDirectory])
        writing.withLock { $0 = false }
        #expect(first.status == 0 && first.stderr.contains("backup: ") && first.stderr.contains("backed up"), "\(first.stderr)")
        #expect(second.status == 0, "\(second.stderr)")
        // A second backup into a directory that holds one is refused.
        let again = try runProcess(cli, ["backup", plain, "--data-dir", daemon.dataDirectory])
        #expect(again.status == 2 && again.stderr.contains("exists"))
        // LMDB's own tool reads the copy.
        let stat = try runProcess("/usr/bin/mdb_stat", ["-s", "kv", plain])
        #expect(stat.status == 0 && stat.stdout.contains("Entries: "), "\(stat.stderr)")

        // Restore refuses a directory a daemon runs on, and an existing store without --replace.
        let busy = try runProcess(cli, ["restore", plain, daemon.dataDirectory, "--replace"])
        #expect(busy.status == 2 && busy.stderr.contains("is running"), "\(busy.stderr)")
        for (name, backup) in [("plain", plain), ("compact", compact)] {
            let target = daemon.directory.file("restored-\(name)")
            let restore = try runProcess(cli, ["restore", backup, target, "--progress"])
            #expect(restore.status == 0 && restore.stderr.contains("restored"), "\(restore.stderr)")
            #expect(try runProcess(cli, ["restore", backup, target]).status == 2)
            #expect(try runProcess(cli, ["restore", backup, target, "--replace"]).status == 0)
            // A daemon serves the restored directory, and every key is there with its exact bytes.
            let restored = try Daemon(dataDirectory: target)
            let client = try Client(socketPath: restored.socketPath, timeoutSeconds: 30)
            #expect(try client.get(expected[997].key) == expected[997].value)
            client.close()
            restored.stop()
            let got = try DataMovementTests.contents(of: target)
            #expect(got.count == expected.count, "\(name): \(got.count) keys (seed \(DataMovementTests.seed))")
            #expect(got == expected.sorted { $0.key.lexicographicallyPrecedes($1.key) }, "\(name) differs (seed \(DataMovementTests.seed))")
        }
    }

    @Test func dumpAndLoadRoundTripInBothFormats() throws {
        let expected = DataMovementTests.pairs().sorted { $0.key.lexicographicallyPrecedes($1.key) }
        let source = try Daemon()
        defer { source.stop() }
        try DataMovementTests.fill(source, expected)
        let json = source.directory.file("dump.jsonl")
        let resp = source.directory.file("dump.resp")
        // JSON through the daemon, RESP from the map; both stream to stdout.
        let dumpJSON = try runProcess(cli, ["--socket", source.socketPath, "dump", "--prefix", "k:", "--progress"])
        #expect(dumpJSON.status == 0 && dumpJSON.stderr.contains("dumped 100000 keys"), "\(dumpJSON.stderr)")
        try Data(dumpJSON.stdoutBytes).write(to: URL(fileURLWithPath: json))
        let firstLine = dumpJSON.stdout.prefix { $0 != "\n" }
        #expect(firstLine.hasPrefix("{\"key\":{\"base64\":"), "the first key (k:000000 + binary) is base64: \(firstLine)")
        let dumpRESP = try runProcess(cli, ["dump", "--format", "redis", "--data-dir", source.dataDirectory])
        #expect(dumpRESP.status == 0)
        try Data(dumpRESP.stdoutBytes).write(to: URL(fileURLWithPath: resp))

        for (format, file) in [("json", json), ("redis", resp)] {
            let target = try Daemon()
            let load = try runProcess(cli, ["--socket", target.socketPath, "load", file, "--format", format, "--progress"])
            #expect(load.status == 0 && load.stderr.contains("loaded 100000"), "\(format): \(load.stderr)")
            target.stop()
            #expect(try DataMovementTests.contents(of: target.dataDirectory) == expected, "\(format) round trip differs (seed \(DataMovementTests.seed))")
        }
        // The RESP dump is what redis-cli --pipe sends, and stdin works for load.
        let piped = try Daemon()
        let pipe = try runProcess("/usr/bin/redis-cli", ["-s", piped.socketPath, "--pipe"], stdin: dumpRESP.stdoutBytes)
        #expect(pipe.stdout.contains("errors: 0, replies: 100000"), "\(pipe.stdout)\(pipe.stderr)")
        piped.stop()
        #expect(try DataMovementTests.contents(of: piped.dataDirectory) == expected)

        // A malformed line stops the load and says where; what came before is stored.
        let broken = try Daemon()
        defer { broken.stop() }
        let bad = try runProcess(cli, ["--socket", broken.socketPath, "load", "--batch", "1"],
                                 stdin: Array("{\"key\":\"a\",\"value\":\"1\"}\nnot json\n".utf8))
        #expect(bad.status == 2 && bad.stderr.contains("line 2"), "\(bad.stderr)")
        #expect(try Client(socketPath: broken.socketPath, timeoutSeconds: 10).get(Array("a".utf8)) == Array("1".utf8))
    }
}
