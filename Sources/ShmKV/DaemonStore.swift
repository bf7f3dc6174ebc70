import Wire

/// Which store a running daemon serves, as it says itself: its data directory (`CONFIG GET dir`, an
/// absolute path) and the epoch of the ring it publishes to (`INFO server`'s `shmkv_ring_epoch`). The
/// epoch is random per daemon run and recorded in the store's `__meta` by that run, so a directory whose
/// recorded epoch is the daemon's is that daemon's store — not a copy, not an unrelated `./data`, not a
/// directory of the same name on another host.
public struct DaemonStore: Sendable, Equatable {
    /// Where the daemon keeps its data, as the daemon names it.
    public let directory: String
    /// The epoch of the daemon's ring (0 if it did not say: not a shmkvd).
    public let ringEpoch: UInt64

    /// A daemon's store as given.
    public init(directory: String, ringEpoch: UInt64) {
        self.directory = directory
        self.ringEpoch = ringEpoch
    }

    /// Asks the daemon at `address` where its data is: one RESP connection, two commands.
    /// - Throws: `.connection` when it cannot be reached; `.protocolViolation` when it does not answer as
    ///   shmkvd does (another RESP server, say).
    public static func ask(_ address: ServerAddress, timeoutSeconds: Int = 10,
                           credentials: Credentials? = nil) throws(ShmKVError) -> DaemonStore {
        let client = try RESPClient(address: address, timeoutSeconds: timeoutSeconds, credentials: credentials)
        defer { client.close() }
        let replies = try client.pipeline([["CONFIG", "GET", "dir"].map { Array($0.utf8) }, ["INFO", "server"].map { Array($0.utf8) }])
        guard case .array(let pair) = replies[0], pair.count == 2, case .bulk(let path) = pair[1], !path.isEmpty else {
            throw .protocolViolation("the server at \(address) did not say where its data is (CONFIG GET dir: \(replies[0]))")
        }
        var epoch: UInt64?
        if case .bulk(let text) = replies[1] {
            for line in String(decoding: text, as: UTF8.self).split(whereSeparator: \.isNewline)
            where line.hasPrefix("shmkv_ring_epoch:") {
                epoch = UInt64(line.dropFirst("shmkv_ring_epoch:".count))
            }
        }
        guard let epoch else {
            throw .protocolViolation("the server at \(address) is not shmkvd (INFO server has no shmkv_ring_epoch)")
        }
        return DaemonStore(directory: String(decoding: path, as: UTF8.self), ringEpoch: epoch)
    }

    /// Opens this daemon's store read-only, checking that the directory is the one it serves.
    /// - Throws: `.notADataDirectory` naming both when the directory here is another store (a copy, an
    ///   older run's files, or the daemon runs on another host where the same path means something else).
    public func open(database: Int = 0) throws(ShmKVError) -> LocalStore {
        let store = try LocalStore(directory: directory, database: database)
        try check(store)
        return store
    }

    /// Throws `.notADataDirectory` unless `store` is the one this daemon serves.
    public func check(_ store: LocalStore) throws(ShmKVError) {
        let recorded: UInt64?
        do { recorded = try store.statistics().ringEpoch } catch let error as ShmKVError { throw error } catch {
            throw .notADataDirectory("\(store.directory): \(error)")
        }
        guard recorded == ringEpoch else {
            let theirs = recorded.map { "ring epoch \($0)" } ?? "no ring recorded"
            throw .notADataDirectory("""
                \(store.directory) is not the store of this daemon (which serves \(directory), ring epoch \
                \(ringEpoch); \(store.directory) has \(theirs)): is the daemon on another host, or is this a copy?
                """)
        }
    }
}
