import LMDB
import TestSupport
import Testing

/// A writer that commits batch after batch begins each in the same `WriteTransaction` object.
@Suite struct RestartTests {
    @Test("restart() begins a new transaction after commit and after abort, seeing what was committed")
    func restartAfterCommitAndAbort() throws {
        try withEnvironment { env, _ in
            let db = try env.openDatabase(named: "kv", create: true)
            let txn = try env.beginWrite()
            try txn.put(db, key: bytes("a"), value: bytes("1"))
            let first = txn.id
            try txn.commit()
            #expect(!txn.isActive)
            try txn.restart()
            #expect(txn.isActive && txn.id == first + 1)
            #expect(try txn.get(db, key: bytes("a")) == bytes("1"))
            try txn.put(db, key: bytes("b"), value: bytes("2"))
            txn.abort()
            try txn.restart()
            #expect(try txn.get(db, key: bytes("b")) == nil)
            try txn.put(db, key: bytes("c"), value: bytes("3"))
            try txn.commit()
            #expect(try env.read { try $0.get(db, key: bytes("c")) } == bytes("3"))
        }
    }
}
