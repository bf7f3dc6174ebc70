import LMDB
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Opens a fresh environment in a temporary directory for one test.
@discardableResult
func withEnvironment<R>(mapSize: Int = 64 << 20, maxReaders: UInt32 = 126, maxDatabases: UInt32 = 4,
                        _ body: (Environment, TemporaryDirectory) throws -> R) throws -> R {
    let dir = TemporaryDirectory("lmdb")
    defer { dir.remove() }
    let env = try Environment(path: dir.path, options: .init(mapSize: mapSize, maxReaders: maxReaders, maxDatabases: maxDatabases))
    defer { env.close() }
    return try body(env, dir)
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct EnvironmentTests {
    @Test func putGetDeleteRoundTrip() throws {
        try withEnvironment { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            try env.write { try $0.put(db, key: bytes("alpha"), value: bytes("one")) }
            #expect(try env.read { try $0.get(db, key: bytes("alpha")) } == bytes("one"))
            #expect(try env.read { try $0.get(db, key: bytes("missing")) } == nil)
            let existed = try env.write { try $0.delete(db, key: bytes("alpha")) }
            #expect(existed)
            let existedAgain = try env.write { try $0.delete(db, key: bytes("alpha")) }
            #expect(!existedAgain)
            #expect(try env.read { try $0.contains(db, key: bytes("alpha")) } == false)
        }
    }

    @Test func withValueLendsTheMappedBytes() throws {
        try withEnvironment { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            let value = [UInt8](repeating: 7, count: 10_000)
            try env.write { try $0.put(db, key: bytes("big"), value: value) }
            try env.read { txn in
                try txn.withValue(db, key: bytes("big")) { buffer in
                    #expect(buffer?.count == 10_000)
                    #expect(buffer?.allSatisfy { $0 == 7 } == true)
                }
                let absent = try txn.withValue(db, key: bytes("nope")) { $0 == nil }
                #expect(absent)
            }
        }
    }

    @Test func keyLengthEdges() throws {
        try withEnvironment { env, _ in
            #expect(env.maxKeySize == 511)
            let db = try env.openDatabase(named: "kv", create: true)
            let one = [UInt8]([0x41])
            let longest = [UInt8](repeating: 0x42, count: 511)
            try env.write { txn in
                try txn.put(db, key: one, value: bytes("1"))
                try txn.put(db, key: longest, value: bytes("511"))
            }
            #expect(try env.read { try $0.get(db, key: one) } == bytes("1"))
            #expect(try env.read { try $0.get(db, key: longest) } == bytes("511"))
            #expect(throws: LMDBError.badValueSize) {
                try env.write { try $0.put(db, key: [UInt8](repeating: 0x43, count: 512), value: bytes("x")) }
            }
            #expect(throws: LMDBError.badValueSize) {
                try env.write { try $0.put(db, key: [], value: bytes("x")) }
            }
        }
    }

    @Test func prefixScanAtKeyLengthEdges() throws {
        try withEnvironment { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            let prefix = [UInt8](repeating: 0x70, count: 510)
            let keys: [[UInt8]] = [
                [0x6F], prefix, prefix + [0x00], prefix + [0x01], prefix + [0xFF], [0x71], [0x70],
            ]
            try env.write { txn in for k in keys { try txn.put(db, key: k, value: [UInt8(k.count % 256)]) } }
            var seen: [[UInt8]] = []
            try env.read { txn in
                try txn.forEach(db, prefix: prefix) { k, _ in seen.append(Array(k)); return .proceed }
            }
            #expect(seen == [prefix, prefix + [0x00], prefix + [0x01], prefix + [0xFF]])
            // Continuation after a key returns what follows it.
            var after: [[UInt8]] = []
            try env.read { txn in
                try txn.forEach(db, prefix: prefix, after: prefix + [0x00]) { k, _ in after.append(Array(k)); return .proceed }
            }
            #expect(after == [prefix + [0x01], prefix + [0xFF]])
            // A one-byte prefix and the empty prefix (everything).
            var single: [[UInt8]] = []
            var all = 0
            try env.read { txn in
                try txn.forEach(db, prefix: [0x70]) { k, _ in single.append(Array(k)); return .proceed }
                try txn.forEach(db, prefix: []) { _, _ in all += 1; return .proceed }
            }
            #expect(single.count == 5)
            #expect(single.first == [0x70])
            #expect(all == keys.count)
        }
    }

    @Test func rangeScanIsHalfOpenAndStops() throws {
        try withEnvironment { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            try env.write { txn in for c in "abcdef" { try txn.put(db, key: bytes(String(c)), value: bytes("v")) } }
            var seen: [String] = []
            try env.read { txn in
                try txn.forEach(db, from: bytes("b"), to: bytes("e")) { k, _ in
                    seen.append(String(decoding: k, as: UTF8.self)); return .proceed
                }
            }
            #expect(seen == ["b", "c", "d"])
            var firstTwo: [String] = []
            try env.read { txn in
                try txn.forEach(db, from: [], to: nil) { k, _ in
                    firstTwo.append(String(decoding: k, as: UTF8.self))
                    return firstTwo.count == 2 ? .stop : .proceed
                }
            }
            #expect(firstTwo == ["a", "b"])
        }
    }

    @Test func cursorWalksInKeyOrder() throws {
        try withEnvironment { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            try env.write { txn in for k in ["b", "a", "c"] { try txn.put(db, key: bytes(k), value: bytes(k)) } }
            try env.read { txn in
                let cursor = try txn.cursor(db)
                defer { cursor.close() }
                #expect(try cursor.first())
                #expect(try cursor.keyEquals(bytes("a")))
                #expect(try cursor.next())
                #expect(try cursor.keyEquals(bytes("b")))
                #expect(try cursor.last())
                #expect(try cursor.keyEquals(bytes("c")))
                #expect(try cursor.next() == false)
                #expect(try cursor.seek(atLeast: bytes("bb")))
                #expect(try cursor.keyEquals(bytes("c")))
                #expect(try cursor.seek(atLeast: bytes("d")) == false)
            }
        }
    }

    @Test func resetAndRenewSeeLaterCommits() throws {
        try withEnvironment { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            let reader = try env.beginRead()
            defer { reader.abort() }
            #expect(try reader.get(db, key: bytes("k")) == nil)
            try env.write { try $0.put(db, key: bytes("k"), value: bytes("v")) }
            // The old snapshot still does not see it.
            #expect(try reader.get(db, key: bytes("k")) == nil)
            reader.reset()
            #expect(!reader.isActive)
            try reader.renew()
            #expect(try reader.get(db, key: bytes("k")) == bytes("v"))
        }
    }

    @Test func nestedTransactionAbortKeepsTheParent() throws {
        try withEnvironment { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            try env.write { txn in
                try txn.put(db, key: bytes("kept"), value: bytes("1"))
                let child = try txn.child()
                try child.put(db, key: bytes("dropped"), value: bytes("2"))
                child.abort()
                let committed = try txn.child()
                try committed.put(db, key: bytes("joined"), value: bytes("3"))
                try committed.commit()
            }
            #expect(try env.read { try $0.get(db, key: bytes("kept")) } == bytes("1"))
            #expect(try env.read { try $0.get(db, key: bytes("dropped")) } == nil)
            #expect(try env.read { try $0.get(db, key: bytes("joined")) } == bytes("3"))
        }
    }

    @Test func statAndInfoReportRealFigures() throws {
        try withEnvironment { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            try env.write { txn in for i in 0..<100 { try txn.put(db, key: bytes("k\(i)"), value: bytes("v")) } }
            #expect(try env.stat(db).entries == 100)
            #expect(try env.stat().entries == 1) // the main database lists "kv"
            let info = try env.info()
            #expect(info.mapSize == 64 << 20)
            #expect(info.lastTransactionID >= 2)
            #expect(info.maxReaders == 126)
            #expect(try env.readerCheck() == 0)
        }
    }

    @Test func oneEnvironmentPerPathPerProcess() throws {
        try withEnvironment { env, dir in
            #expect(throws: LMDBError.refused("environment \(dir.path) is already open in this process")) {
                _ = try Environment(path: dir.path)
            }
            env.close()
            // Closed: the path may be opened again.
            let again = try Environment(path: dir.path)
            again.close()
        }
    }
}

@Suite struct ErrorMappingTests {
    @Test func everyCodeMapsBothWays() {
        let cases: [LMDBError] = [.keyExists, .notFound, .pageNotFound, .corrupted, .panic, .versionMismatch, .invalid,
                                  .mapFull, .databasesFull, .readersFull, .tlsFull, .transactionFull, .cursorFull,
                                  .pageFull, .mapResized, .incompatible, .badReaderSlot, .badTransaction,
                                  .badValueSize, .badDatabase, .system(ENOENT)]
        for error in cases {
            #expect(LMDBError(code: error.code!) == error)
            #expect(!error.description.isEmpty)
        }
        #expect(LMDBError.mapFull.description.contains("MDB_MAP_FULL"))
    }

    @Test func keyExistsWithNoOverwrite() throws {
        try withEnvironment { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            try env.write { try $0.put(db, key: bytes("k"), value: bytes("1")) }
            #expect(throws: LMDBError.keyExists) {
                try env.write { try $0.put(db, key: bytes("k"), value: bytes("2"), flags: .noOverwrite) }
            }
        }
    }

    @Test func mapFullWhenTheMapIsTooSmall() throws {
        try withEnvironment(mapSize: 1 << 20) { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            #expect(throws: LMDBError.mapFull) {
                try env.write { txn in
                    for i in 0..<1000 { try txn.put(db, key: bytes("k\(i)"), value: [UInt8](repeating: 1, count: 4096)) }
                }
            }
            // The failed transaction left nothing behind and the environment still works.
            #expect(try env.stat(db).entries == 0)
            try env.write { try $0.put(db, key: bytes("small"), value: bytes("ok")) }
        }
    }

    @Test func databasesFull() throws {
        try withEnvironment(maxDatabases: 1) { env, _ in
            _ = try env.openDatabase(named: "one", create: true)
            #expect(throws: LMDBError.databasesFull) { _ = try env.openDatabase(named: "two", create: true) }
        }
    }

    @Test func readersFull() throws {
        try withEnvironment(maxReaders: 1) { env, _ in
            let first = try env.beginRead()
            defer { first.abort() }
            #expect(throws: LMDBError.readersFull) { _ = try env.beginRead() }
        }
    }

    @Test func missingNamedDatabaseIsNotFound() throws {
        try withEnvironment { env, _ in
            #expect(throws: LMDBError.notFound) { _ = try env.openDatabase(named: "never-made") }
        }
    }

    @Test func incompatibleWhenANameIsAPlainKey() throws {
        try withEnvironment { env, _ in
            let main = try env.openDatabase(named: nil)
            try env.write { try $0.put(main, key: bytes("plain"), value: bytes("not a database")) }
            #expect(throws: LMDBError.incompatible) { _ = try env.openDatabase(named: "plain", create: true) }
        }
    }

    @Test func missingDirectoryIsENOENT() {
        #expect(throws: LMDBError.system(ENOENT)) {
            _ = try Environment(path: "/tmp/shmkv-no-such-dir-\(getpid())/x")
        }
    }

    @Test func garbageFileIsInvalid() throws {
        let dir = TemporaryDirectory("lmdb-garbage")
        defer { dir.remove() }
        let garbage = [UInt8](repeating: 0x5A, count: 16384)
        let fd = open(dir.file("data.mdb"), O_CREAT | O_WRONLY, 0o600)
        _ = garbage.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect(throws: LMDBError.invalid) { _ = try Environment(path: dir.path) }
    }

    @Test func useAfterCommitIsBadTransaction() throws {
        try withEnvironment { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            let txn = try env.beginWrite()
            try txn.commit()
            #expect(throws: LMDBError.badTransaction) { try txn.put(db, key: bytes("k"), value: bytes("v")) }
        }
    }

    @Test func readOnlyEnvironmentRefusesWrites() throws {
        let dir = TemporaryDirectory("lmdb-ro")
        defer { dir.remove() }
        do {
            let env = try Environment(path: dir.path, options: .init(maxDatabases: 2))
            _ = try env.openDatabase(named: "kv", create: true)
            env.close()
        }
        let ro = try Environment(path: dir.path, options: .init(flags: [.readOnly], maxDatabases: 2))
        defer { ro.close() }
        let db = try ro.openDatabase(named: "kv")
        // LMDB refuses a write transaction on a read-only environment with EACCES.
        #expect(throws: LMDBError.system(EACCES)) { try ro.write { try $0.put(db, key: bytes("k"), value: bytes("v")) } }
    }
}

@Suite struct CrossProcessTests {
    @Test func mapResizedByAnotherProcessIsReportedAndAdopted() throws {
        try withEnvironment(mapSize: 1 << 20) { env, dir in
            let db = try env.openDatabase(named: "kv", create: true)
            try env.write { try $0.put(db, key: bytes("before"), value: bytes("1")) }
            // Another process maps 64 MiB and writes 4 MiB: more than this process's 1 MiB map holds.
            let grown = try runProcess(Products.path("shmkv-probe"), ["grow", dir.path, "kv", "4"])
            #expect(grown.status == 0, "\(grown.stdout)")
            #expect(throws: LMDBError.mapResized) { _ = try env.beginRead() }
            // No transaction of ours is open: adopt the size the other process set, then read.
            try env.setMapSize(0)
            #expect(try env.info().mapSize == 64 << 20)
            #expect(try env.read { try $0.get(db, key: bytes("before")) } == bytes("1"))
            #expect(try env.stat(db).entries == 1 + 4 * 16)
        }
    }

    @Test func aSecondProcessReadsWhatTheFirstWrote() throws {
        try withEnvironment { env, dir in
            let db = try env.openDatabase(named: "kv", create: true)
            try env.write { txn in
                try txn.put(db, key: bytes("shared"), value: [0xDE, 0xAD, 0xBE, 0xEF])
                for i in 0..<50 { try txn.put(db, key: bytes("n\(i)"), value: bytes("\(i)")) }
            }
            // The writer keeps the environment open while the child process reads it read-only.
            let probe = Products.path("shmkv-probe")
            let got = try runProcess(probe, ["get", dir.path, "kv", "shared"])
            #expect(got.status == 0)
            #expect(got.stdout == "deadbeef\n")
            let count = try runProcess(probe, ["count", dir.path, "kv"])
            #expect(count.stdout == "51\n")
            let absent = try runProcess(probe, ["get", dir.path, "kv", "nope"])
            #expect(absent.stdout == "absent\n")
            // A later commit is visible to a new reader process.
            try env.write { try $0.put(db, key: bytes("shared"), value: [1]) }
            #expect(try runProcess(probe, ["get", dir.path, "kv", "shared"]).stdout == "01\n")
        }
    }
}
