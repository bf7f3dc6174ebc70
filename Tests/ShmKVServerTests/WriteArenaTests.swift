import Foundation
import Locks
import ShmKV
@testable import ShmKVServer
import TestSupport
import Testing

/// The reactors' write arenas: a write's keys and values are copied once into fixed chunks, read in
/// place by the committing thread, and the chunk is used again once every write in it was answered.
@Suite("Write arena: every write's bytes without an allocation per request")
struct WriteArenaTests {
    @Test("stored bytes are exact copies, side by side, and a released chunk is used again")
    func storesAndReuses() throws {
        let arena = WriteArena()
        let key = Array("key:1".utf8), value = Array(repeating: UInt8(ascii: "v"), count: 100)
        let first = key.withUnsafeBytes { k in value.withUnsafeBytes { v in store(arena, key: k, value: v) } }
        #expect(Array(first.key) == key)
        #expect(Array(first.value) == value)
        #expect(first.value.baseAddress == first.key.baseAddress! + key.count)
        let second = key.withUnsafeBytes { k in value.withUnsafeBytes { v in store(arena, key: k, value: v) } }
        #expect(second.chunk == first.chunk)
        #expect(second.key.baseAddress == first.value.baseAddress! + value.count)
        arena.release(first.chunk)
        arena.release(second.chunk)
        // Nothing in flight: the chunk starts again from its beginning.
        let third = key.withUnsafeBytes { k in value.withUnsafeBytes { v in store(arena, key: k, value: v) } }
        #expect(third.key.baseAddress == first.key.baseAddress)
        arena.release(third.chunk)
    }

    @Test("a full chunk in flight is left to its writes; a large write gets a block of its own; spares are bounded")
    func chunksRollOverAndAreBounded() throws {
        let arena = WriteArena()
        let value = [UInt8](repeating: 7, count: 4000)
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        // More than chunksKept + 1 chunks' worth in flight at once.
        let perChunk = WriteArena.chunkSize / value.count
        let count = perChunk * (WriteArena.chunksKept + 4)
        var stored: [(chunk: Int32, value: UnsafeRawBufferPointer)] = []
        for i in 0..<count {
            var v = value
            v[0] = UInt8(truncatingIfNeeded: i)
            let s = v.withUnsafeBytes { store(arena, key: empty, value: $0) }
            stored.append((s.chunk, s.value))
        }
        #expect(Set(stored.map(\.chunk)).count == WriteArena.chunksKept + 4)
        // Every write's bytes are still its own while all are in flight.
        for (i, s) in stored.enumerated() {
            #expect(s.value.count == value.count && s.value[0] == UInt8(truncatingIfNeeded: i) && s.value[1] == 7)
        }
        // A write above `largestStored` gets a block of its own, freed when it is answered.
        let held = arena.bytesHeld
        let large = [UInt8](repeating: 1, count: WriteArena.chunkSize + 1)
        let block = large.withUnsafeBytes { store(arena, key: empty, value: $0) }
        #expect(Array(block.value) == large)
        #expect(!stored.contains { $0.chunk == block.chunk })
        #expect(arena.bytesHeld == held + large.count)
        arena.release(block.chunk)
        #expect(arena.bytesHeld == held)
        // Its slot is taken by the next block.
        let next = large.withUnsafeBytes { store(arena, key: empty, value: $0) }
        #expect(next.chunk == block.chunk)
        arena.release(next.chunk)
        for s in stored { arena.release(s.chunk) }
        // The current chunk and at most `chunksKept` spares stay; the rest went back.
        #expect(arena.bytesHeld == (WriteArena.chunksKept + 1) * WriteArena.chunkSize)
    }

    @Test("pipelined writes of every kind and size, across reactors, inside and outside MULTI, keep their bytes",
          arguments: ["volatile", "durable"])
    func pipelinedSetsKeepTheirBytes(durability: String) throws {
        let seed = ProcessInfo.processInfo.environment["SHMKV_ARENA_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        let daemon = try Daemon(extraArguments: ["--durability", durability])
        defer { daemon.stop() }
        // Each connection's commands and the values they leave, made first (seeded), then sent at once.
        var plans: [(commands: [[[UInt8]]], expected: [String: [UInt8]])] = []
        for c in 0..<4 {
            var rng = SplitMix64(seed: seed &+ UInt64(c))
            var commands: [[[UInt8]]] = []
            var expected: [String: [UInt8]] = [:]
            func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
            func randomValue(_ range: ClosedRange<Int>) -> [UInt8] {
                (0..<Int.random(in: range, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            for i in 0..<300 {
                let key = "k:\(c):\(i % 200)"
                // Sizes on both sides of the arena's limit (8 KiB for key and value together).
                let value = randomValue(0...9000)
                // The other writes, each in its own shape: several keys packed (MSET, MSETNX, DEL), two
                // keys (RENAME, COPY), a key and a value (APPEND, SETRANGE), a key alone (GETDEL,
                // EXPIRE, PERSIST, INCRBYFLOAT), a channel and a message (PUBLISH).
                let other = ["m:\(c):\(i % 7)", "m:\(c):\((i + 3) % 7)", "m:\(c):\((i + 5) % 7)"]
                switch i % 13 {
                case 5:
                    let values = (0..<3).map { _ in randomValue(0...5000) }
                    let mset = [bytes("MSET")] + zip(other, values).flatMap { [bytes($0), $1] }
                    commands += (i / 13) % 2 == 0 ? [[bytes("MULTI")], mset, [bytes("EXEC")]] : [mset]
                    for (k, v) in zip(other, values) { expected[k] = v }
                case 6:
                    commands.append([bytes("DEL"), bytes(other[0]), bytes(other[1]), bytes("absent:\(c)")])
                    expected[other[0]] = nil
                    expected[other[1]] = nil
                case 7:
                    let suffix = randomValue(0...3000)
                    commands.append([bytes("APPEND"), bytes(other[2]), suffix])
                    expected[other[2]] = (expected[other[2]] ?? []) + suffix
                case 8:
                    let patch = randomValue(1...2000)
                    let offset = Int.random(in: 0...100, using: &rng)
                    commands.append([bytes("SETRANGE"), bytes(other[0]), bytes(String(offset)), patch])
                    var old = expected[other[0]] ?? []
                    if old.count < offset + patch.count { old += [UInt8](repeating: 0, count: offset + patch.count - old.count) }
                    old.replaceSubrange(offset..<(offset + patch.count), with: patch)
                    expected[other[0]] = old
                case 9:
                    commands.append([bytes("COPY"), bytes(other[1]), bytes(other[2]), bytes("REPLACE")])
                    if let v = expected[other[1]] { expected[other[2]] = v }
                    commands.append([bytes("PUBLISH"), bytes("ch:\(c)"), value])
                case 10:
                    let target = "r:\(c):\(i)"
                    if expected[other[0]] != nil {
                        commands.append([bytes("RENAME"), bytes(other[0]), bytes(target)])
                        expected[target] = expected.removeValue(forKey: other[0])
                    }
                    commands.append([bytes("GETDEL"), bytes(other[1])])
                    expected[other[1]] = nil
                case 11:
                    commands.append([bytes("MSETNX"), bytes("nx:\(c):\(i)"), value, bytes("nx2:\(c):\(i)"), value])
                    expected["nx:\(c):\(i)"] = value
                    expected["nx2:\(c):\(i)"] = value
                    commands.append([bytes("EXPIRE"), bytes("nx:\(c):\(i)"), bytes("1000")])
                    commands.append([bytes("PERSIST"), bytes("nx:\(c):\(i)")])
                case 12:
                    commands.append([bytes("INCRBYFLOAT"), bytes("f:\(c)"), bytes("1.5")])
                    expected["f:\(c)"] = bytes(String(1.5 * Double(i / 13 + 1)).replacingOccurrences(of: ".0", with: ""))
                default: break
                }
                switch i % 5 {
                case 0: commands += [[Array("MULTI".utf8)], [Array("SET".utf8), Array(key.utf8), value], [Array("EXEC".utf8)]]
                case 1: commands.append([Array("SET".utf8), Array(key.utf8), value, Array("GET".utf8)])
                case 2:
                    commands.append([Array("SETNX".utf8), Array(key.utf8), value])
                    if expected[key] != nil { continue }
                case 3: commands.append([Array("SETEX".utf8), Array(key.utf8), Array("1000".utf8), value])
                default: commands.append([Array("SET".utf8), Array(key.utf8), value])
                }
                expected[key] = value
            }
            // Counters (INCRBY/DECRBY/INCR: the key in the arena, the digits formatted on the stack) and
            // single-key DELs, whose keys go into the arena too.
            var counter: Int64 = 0
            for i in 0..<200 {
                let delta = Int64.random(in: -1_000_000...1_000_000, using: &rng)
                switch i % 4 {
                case 0: commands.append([Array("INCRBY".utf8), Array("n:\(c)".utf8), Array(String(delta).utf8)])
                case 1: commands.append([Array("DECRBY".utf8), Array("n:\(c)".utf8), Array(String(delta).utf8)])
                case 2: commands.append([Array("INCR".utf8), Array("n:\(c)".utf8)])
                default: commands.append([Array("DEL".utf8), Array("k:\(c):\(i)".utf8)])
                }
                switch i % 4 {
                case 0: counter += delta
                case 1: counter -= delta
                case 2: counter += 1
                default: expected.removeValue(forKey: "k:\(c):\(i)")
                }
            }
            expected["n:\(c)"] = Array(String(counter).utf8)
            // A missing key reads as null: DEL's are checked as absent below.
            plans.append((commands, expected))
        }
        let failures = Locked<[String]>([])
        let sent = plans
        DispatchQueue.concurrentPerform(iterations: sent.count) { c in
            do {
                let client = try RESPClient(address: .unix(path: daemon.socketPath), timeoutSeconds: 30)
                let errors = try client.pipeline(sent[c].commands).filter { if case .error = $0 { true } else { false } }
                if !errors.isEmpty { failures.withLock { $0.append("connection \(c): \(errors.prefix(3))") } }
            } catch {
                failures.withLock { $0.append("connection \(c): \(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "seed \(seed) (SHMKV_ARENA_SEED=\(seed) to replay): \(failures.withLock { $0 })")
        let expected = plans.reduce(into: [String: [UInt8]]()) { all, plan in all.merge(plan.expected) { $1 } }
        let reader = try RESPClient(address: .unix(path: daemon.socketPath), timeoutSeconds: 30)
        let deleted = (0..<4).flatMap { c in stride(from: 3, to: 200, by: 4).map { "k:\(c):\($0)" } }
        for key in deleted {
            #expect(try reader.command([Array("EXISTS".utf8), Array(key.utf8)]) == .integer(0), "\(key) was deleted; seed \(seed)")
        }
        let keys = expected.keys.sorted()
        let values = try reader.pipeline(keys.map { [Array("GET".utf8), Array($0.utf8)] })
        var wrong: [String] = []
        for (key, reply) in zip(keys, values) where reply != .bulk(expected[key]!) { wrong.append(key) }
        #expect(wrong.isEmpty, "seed \(seed) (SHMKV_ARENA_SEED=\(seed) to replay): \(wrong.count) keys wrong, e.g. \(wrong.prefix(3))")
    }
}

/// `key` and `value` side by side in the arena, as `ServerConnection.submit` lays out a write.
private func store(_ arena: WriteArena, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)
    -> (chunk: Int32, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
    let (chunk, bytes) = arena.reserve(key.count + value.count)
    let (k, v) = bytes.storePair(key, value)
    return (chunk, k, v)
}
