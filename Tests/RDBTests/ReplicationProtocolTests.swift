import Foundation
import RDB
import TestSupport
import Testing

/// What a replica reads from its primary before the command stream: PSYNC's replies, the transfer's
/// header after keepalive newlines, and the RDB framed by its length or by an EOF marker, fed in pieces
/// of any size, leaving the command stream's bytes untouched.
@Suite struct ReplicationProtocolTests {
    static let id = "0123456789abcdef0123456789abcdef01234567"

    @Test func psyncReplies() throws {
        func reply(_ text: String) throws -> PsyncReply { try ReplicationProtocol.psyncReply(Array(text.utf8)) }
        #expect(try reply("+FULLRESYNC \(Self.id) 1234") == .fullResync(replicationID: Self.id, offset: 1234))
        #expect(try reply("+CONTINUE") == .partial(newReplicationID: nil))
        #expect(try reply("+CONTINUE \(Self.id)") == .partial(newReplicationID: Self.id))
        #expect(try reply("-NOMASTERLINK Can't SYNC while not connected with my master") == .error("NOMASTERLINK Can't SYNC while not connected with my master"))
        for bad in ["+FULLRESYNC \(Self.id)", "+FULLRESYNC xyz 5", "+FULLRESYNC \(Self.id) -1", "+FULLRESYNC \(Self.id) 99999999999999999999",
                    "+CONTINUE abc", "+OK", ""] {
            #expect(throws: ReplicationError.self, "\(bad)") { try reply(bad) }
        }
        #expect(try ReplicationProtocol.line(Array("+OK\r\nmore".utf8))?.consumed == 5)
        #expect(try ReplicationProtocol.line(Array("+OK\r".utf8)) == nil)
        #expect(throws: ReplicationError.self) { try ReplicationProtocol.line([UInt8](repeating: 65, count: ReplicationProtocol.maximumLine + 2)) }
    }

    @Test func transferHeaders() throws {
        #expect(try ReplicationProtocol.transferHeader(Array("\n\n\n$5".utf8))! == (nil, 3))
        #expect(try ReplicationProtocol.transferHeader(Array("$5".utf8)) == nil)
        #expect(try ReplicationProtocol.transferHeader(Array("$329\r\nREDIS".utf8))! == (.sized(329), 6))
        let marker = String(repeating: "m", count: 40)
        #expect(try ReplicationProtocol.transferHeader(Array("$EOF:\(marker)\r\n".utf8))! == (.eofMarked(Array(marker.utf8)), 47))
        for bad in ["$EOF:short\r\n", "$-1\r\n", "$\r\n", "$12a\r\n", "+OK\r\n", "$99999999999999999999\r\n"] {
            #expect(throws: ReplicationError.self, "\(bad)") { try ReplicationProtocol.transferHeader(Array(bad.utf8)) }
        }
        #expect(throws: ReplicationError.self) { try ReplicationProtocol.transferHeader(Array("-ERR failed\r\n".utf8)) }
    }

    /// An RDB of `image` as a primary would send it, framed either way, followed by commands.
    static func transfer(_ image: KeyspaceImage, marker: [UInt8]?) -> (bytes: [UInt8], rdbEnd: Int) {
        var writer = RDBFileWriter(aux: [("redis-ver", "7.0.15"), ("repl-stream-db", "0")])
        for (db, keys) in image.sorted(by: { $0.key < $1.key }) {
            writer.selectDatabase(db, keys: keys.count, expires: 0)
            for (key, stored) in keys { writer.key(key, stored.value, expiresAt: stored.expiresAt) }
        }
        writer.finish()
        let rdb = writer.take()
        let header = marker.map { Array("$EOF:".utf8) + $0 + [13, 10] } ?? Array("$\(rdb.count)\r\n".utf8)
        let body = Array("\n\n".utf8) + header + rdb + (marker ?? [])
        return (body + Array("*1\r\n$4\r\nPING\r\n".utf8), body.count)
    }

    @Test(arguments: [false, true])
    func fullSyncInPieces(diskless: Bool) throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000) ^ (diskless ? 1 : 0)
        var random = SplitMix64(seed: seed)
        let image = RedisDataset.make(seed: seed, keysPerDatabase: 30, databases: [0, 2])
        let marker = diskless ? (0..<40).map { _ in UInt8.random(in: 97...102, using: &random) } : nil
        let (bytes, rdbEnd) = Self.transfer(image, marker: marker)
        for _ in 0..<6 {
            var at = 0, framing: TransferFraming?
            while framing == nil {
                let (found, used) = try #require(try ReplicationProtocol.transferHeader(bytes[at...]))
                framing = found
                at += used
            }
            var reader = FullSyncReader(framing: framing!)
            var read: KeyspaceImage = [:]
            while !reader.isComplete {
                let piece = Int.random(in: 0..<3, using: &random) == 0 ? Int.random(in: 1...50, using: &random) : Int.random(in: 1...5000, using: &random)
                reader.feed(bytes[at..<min(at + piece, bytes.count)])
                while let record = try reader.next() {
                    if case .key(let key) = record { read[key.database, default: [:]][key.key] = StoredKey(key.value, expiresAt: key.expiresAt) }
                }
                at += reader.takenOfLastFeed
            }
            #expect(at == rdbEnd, "seed \(seed)")
            #expect(RedisDataset.difference(read, image) == nil, "seed \(seed): \(RedisDataset.difference(read, image) ?? "")")
        }
        // A changed byte of the RDB's checksum is an error once the transfer's end is known.
        var damaged = bytes
        damaged[rdbEnd - (marker?.count ?? 0) - 1] ^= 1
        let header = Array(damaged[2...]).firstIndex(of: 10)! + 3
        var reader = FullSyncReader(framing: try #require(try ReplicationProtocol.transferHeader(damaged[2...])?.framing))
        reader.feed(damaged[header...])
        #expect(throws: ReplicationError.self, "seed \(seed)") { while try reader.next() != nil {} }
    }
}
