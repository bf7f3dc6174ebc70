import Foundation
import ShmKV
import TestSupport
import Testing

/// A map that fills up grows; a disk that fills up refuses writes clearly and recovers.
@Suite("Map growth and a full disk")
struct StorageLimitTests {
    func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    func stat(_ client: Client, _ name: String) throws -> Int64? {
        try client.stats().first { $0.name == name }?.value
    }

    @Test("from a 1 MiB map to 270 MB of data: no write fails, and a reader in another process reads across every growth")
    func mapGrows() throws {
        let daemon = try Daemon(environment: ["SHMKV_STORAGE_MAP_SIZE": "1048576"])
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 30)
        try client.put(b("first"), b("1"))
        let reader = try ChildProcess(Products.path("shmkv-probe"), ["local-read-loop", daemon.dataDirectory])
        #expect(reader.readLine() == "ready")
        let value = [UInt8](repeating: 0x61, count: 8 * 1024)
        for i in 0..<4096 {
            // Batches of 16 through MPUT and single PUTs, so both grow the map mid-batch.
            if i % 2 == 0 {
                try client.mput((0..<16).map { KeyValue(key: b("m\(i)-\($0)"), value: value) })
            } else {
                try client.put(b("k\(i)"), value)
            }
            if i % 512 == 1 {
                reader.send("k\(i)")
                #expect(reader.readLine() == String(value.count), "the reader lost the key written at step \(i)")
            }
        }
        let mapSize = try stat(client, "map_size") ?? 0
        print("map grew from 1 MiB to \(mapSize >> 20) MiB in \(try stat(client, "map_resizes") ?? 0) steps")
        #expect(mapSize >= 256 << 20)
        #expect(try stat(client, "map_resizes") ?? 0 >= 5)
        reader.send("first")
        #expect(reader.readLine() == "1")
        reader.send("k4095")
        #expect(reader.readLine() == String(value.count))
        #expect(try client.get(b("m4094-15")) == value)
    }

    /// Volatile mode writes pages in place (`MDB_WRITEMAP`): there the writer must see the full disk
    /// before it touches a page (a page without a block would fault), so it is tested in both modes.
    @Test("on a full disk (a 24 MiB tmpfs) writes fail with a clear error, everything acknowledged stays readable, reads go on, and writes work again once space returns",
          arguments: ["durable", "volatile"])
    func diskFull(durability: String) throws {
        let mountPoint = try SmallFileSystem(size: "24m", label: "shmkv-disk")
        defer { mountPoint.remove() }
        // Ballast to give back later: the disk's free space returning.
        let ballast = mountPoint.file("ballast")
        try Data(count: 4 << 20).write(to: URL(fileURLWithPath: ballast))
        var acknowledged: [String] = []
        let value = [UInt8](repeating: 0x62, count: 64 * 1024)
        do {
            let daemon = try Daemon(dataDirectory: mountPoint.file("data"), extraArguments: ["--durability", durability])
            defer { daemon.stop() }
            let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 30)
            var refusal: ShmKVError?
            for i in 0..<2000 {
                do {
                    try client.put(b("v\(i)"), value)
                    acknowledged.append("v\(i)")
                } catch {
                    refusal = error
                    break
                }
            }
            guard case .server(let status, let message)? = refusal else {
                Issue.record("24 MiB of disk took 128 MB of values without complaint")
                return
            }
            print("\(durability): on a full disk after \(acknowledged.count) values: \(status) \(message)")
            #expect(status == .storageError)
            #expect(message.contains("No space left on device"))
            // Reads go on, on this connection and on new ones.
            #expect(try client.get(b("v0")) == value)
            #expect(try Client(socketPath: daemon.socketPath, timeoutSeconds: 10).get(b(acknowledged.last!)) == value)
            // A second write fails the same way, and the daemon lives on.
            #expect(throws: ShmKVError.self) { try client.put(b("again"), value) }
            // Space returns: writes work again.
            try FileManager.default.removeItem(atPath: ballast)
            try client.put(b("after"), value)
            acknowledged.append("after")
            #expect(try client.get(b("after")) == value)
        }
        // Everything acknowledged is in the files, read by a fresh process.
        let missing = try acknowledged.filter { key in
            let probe = try runProcess(Products.path("shmkv-probe"), ["get", mountPoint.file("data"), "kv", key])
            return probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "absent"
        }
        #expect(acknowledged.count > 100)
        #expect(missing.isEmpty, "acknowledged but lost: \(missing.prefix(5))")
    }
}
