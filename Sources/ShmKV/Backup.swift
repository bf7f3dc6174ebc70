import Dispatch
import LMDB
import Locks
import Posix
import StoreLayout
#if canImport(Glibc)
import Glibc
#endif

extension LocalStore {
    /// Writes a consistent hot copy of the store to `destination` (a directory, created 0700 if missing,
    /// that must not hold a data file yet): LMDB's environment copy from one read snapshot, while the
    /// daemon goes on writing. The copy is written as `data.mdb.partial`, synced, then renamed, so a
    /// directory with a `data.mdb` holds a whole copy. `compact` leaves out free pages (smaller, slower).
    ///
    /// `progress` is called with the bytes written so far, from this thread, about every 1 MiB;
    /// `expectedBytes` (below) says roughly how many to expect. Returns the size of the copy.
    @discardableResult
    public func backup(to destination: String, compact: Bool = false,
                       progress: (Int) -> Void = { _ in }) throws(ShmKVError) -> Int {
        if mkdir(destination, 0o700) != 0 && errno != EEXIST { throw .file(SystemError.last("mkdir \(destination)").description) }
        let final = destination + "/" + StoreLayout.dataFileName
        guard access(final, F_OK) != 0 else { throw .file("\(final) exists: back up into a new or empty directory") }
        let partial = final + ".partial"
        do {
            let output = Descriptor(adopting: try syscallBlocking("open \(partial)") {
                open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            })
            var ends: [Int32] = [-1, -1]
            try syscallBlocking("pipe") { pipe(&ends) }
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            let input = Descriptor(adopting: ends[0])
            // The pooled transaction counts this copy as a reader of the current map, so a map resize in
            // this process waits for it.
            let total = try withTransaction { _ in
                try copyThroughPipe(writeEnd: ends[1], input: input, output: output, compact: compact, progress: progress)
            }
            try syscallBlocking("fsync \(partial)") { fsync(output.rawValue) }
            output.close()
            input.close()
            try syscallBlocking("rename \(partial)") { rename(partial, final) }
            syncDirectory(destination)
            return total
        } catch {
            unlink(partial)
            if let error = error as? ShmKVError { throw error }
            throw .file("\(error)")
        }
    }

    /// Bytes a plain (not compact) backup writes: the used part of the map.
    public var expectedBackupBytes: Int { (try? statistics().mapUsedBytes) ?? 0 }

    /// LMDB writes into the pipe on a worker; this thread moves the bytes to the file and counts them.
    private func copyThroughPipe(writeEnd: Int32, input: borrowing Descriptor, output: borrowing Descriptor,
                                 compact: Bool, progress: (Int) -> Void) throws(SystemError) -> Int {
        let outcome = Locked<LMDBError?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let environment = self.environment
        DispatchQueue.global().async {
            do throws(LMDBError) { try environment.copy(to: writeEnd, compact: compact) } catch { outcome.withLock { $0 = error } }
            close(writeEnd)
            finished.signal()
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        var failure: SystemError?
        let fd = input.rawValue
        // Read to the end whatever happens, so that LMDB's writer never blocks on a full pipe.
        while true {
            let n: Int
            do throws(SystemError) { n = try syscallBlocking("read") { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } } }
            catch { failure = failure ?? error; break }
            if n == 0 { break }
            guard failure == nil else { continue }
            do throws(SystemError) { try writeAll(output.rawValue, buffer, count: n) } catch { failure = error }
            total += n
            progress(total)
        }
        finished.wait()
        if let failure { throw failure }
        if let error = outcome.withLock({ $0 }) { throw SystemError(call: "mdb_env_copyfd2: \(error)", errno: .ioError) }
        return total
    }
}

/// Writes `count` bytes of `bytes` to `fd`.
func writeAll(_ fd: Int32, _ bytes: [UInt8], count: Int) throws(SystemError) {
    var offset = 0
    while offset < count {
        offset += try syscallBlocking("write") { bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, count - offset) } }
    }
}

/// fsync of a directory, so that a rename in it survives a crash (best effort).
func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    fsync(fd)
    close(fd)
}

/// A data directory as files: putting a backup in place.
public enum DataDirectory {
    /// Copies the data file of `backup` (a directory written by `LocalStore.backup`) into
    /// `dataDirectory` (created 0700 if missing), holding the daemon's pid lock meanwhile so that no
    /// daemon starts on it half-written. Refuses while a daemon runs there, and refuses to replace an
    /// existing store unless `replace`. The backup must open as a ShmKV store; the old lock file (whose
    /// reader table described the old file) is removed. `progress` gets the bytes copied so far.
    /// Returns the size copied.
    @discardableResult
    public static func restore(from backup: String, into dataDirectory: String, replace: Bool = false,
                               progress: (Int) -> Void = { _ in }) throws(ShmKVError) -> Int {
        do {
            _ = try LocalStore(directory: backup).statistics()
        } catch {
            throw .file("\(backup) is not a usable backup: \(error)")
        }
        if mkdir(dataDirectory, 0o700) != 0 && errno != EEXIST { throw .file(SystemError.last("mkdir \(dataDirectory)").description) }
        let lock: PidFile
        do { lock = try PidFile(path: dataDirectory + "/" + StoreLayout.pidFileName) } catch {
            switch error {
            case .held(let pid): throw .file("shmkvd (pid \(pid.isEmpty ? "unknown" : pid)) is running on \(dataDirectory): stop it first")
            case .system(let error): throw .file(error.description)
            }
        }
        defer { lock.release() }
        let final = dataDirectory + "/" + StoreLayout.dataFileName
        if access(final, F_OK) == 0 && !replace { throw .file("\(final) exists: restore into an empty directory, or pass --replace to replace it") }
        let partial = final + ".partial"
        var total = 0
        do throws(SystemError) {
            let source = Descriptor(adopting: try syscallBlocking("open \(backup)/\(StoreLayout.dataFileName)") {
                open(backup + "/" + StoreLayout.dataFileName, O_RDONLY | O_CLOEXEC)
            })
            let output = Descriptor(adopting: try syscallBlocking("open \(partial)") {
                open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            })
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            let fd = source.rawValue
            while true {
                let n = try syscallBlocking("read") { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
                if n == 0 { break }
                try writeAll(output.rawValue, buffer, count: n)
                total += n
                progress(total)
            }
            try syscallBlocking("fsync \(partial)") { fsync(output.rawValue) }
            output.close()
            source.close()
            try syscallBlocking("rename \(partial)") { rename(partial, final) }
            unlink(dataDirectory + "/" + StoreLayout.lockFileName)
            syncDirectory(dataDirectory)
        } catch {
            unlink(partial)
            throw .file(error.description)
        }
        do {
            try giveOwnIdentity(dataDirectory)
        } catch {
            throw .file("restored \(final), but could not give it its own identity: \(error)")
        }
        return total
    }

    /// A restored store is a new store: a new environment id (so its daemon makes a ring of its own, never
    /// the original's), the data file it was made for, and no ring recorded until its daemon starts.
    private static func giveOwnIdentity(_ directory: String) throws {
        let environment = try Environment(path: directory, options: .init(maxDatabases: StoreLayout.maxDatabases, fileMode: 0o600))
        defer { environment.close() }
        let meta = try environment.openStoreDatabases(create: false).meta
        try environment.write { txn in
            try txn.put(meta, key: StoreLayout.MetaKey.environmentID, value: Array(MetaValue.hex16(UInt64.random(in: 0...UInt64.max)).utf8))
            try txn.put(meta, key: StoreLayout.MetaKey.dataFile, value: Array(StoreLayout.dataFileIdentity(directory: directory).utf8))
            _ = try txn.delete(meta, key: StoreLayout.MetaKey.ringPath)
            _ = try txn.delete(meta, key: StoreLayout.MetaKey.ringEpoch)
        }
    }
}

extension LocalStore {
    /// The pid of the shmkvd running on `dataDirectory` ("" when it wrote none yet), or nil when none
    /// runs there (its pid lock is free; a missing directory has none).
    public static func runningDaemon(in dataDirectory: String) -> String? {
        guard access(dataDirectory, F_OK) == 0 else { return nil }
        do {
            let lock = try PidFile(path: dataDirectory + "/" + StoreLayout.pidFileName)
            lock.release()
            return nil
        } catch {
            if case .held(let pid) = error { return pid }
            return nil
        }
    }
}
