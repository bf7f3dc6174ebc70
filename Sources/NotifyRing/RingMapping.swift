import Atomics
import Posix
import CShim
#if canImport(Glibc)
import Glibc
#endif

/// One process's mapping of a ring file, with typed access to the header fields.
///
/// The header page is mapped read-write in every process (subscribers register as futex waiters there);
/// the data area is read-write for the publisher and read-only for subscribers, so a subscriber cannot
/// corrupt what others read. Both are `MAP_SHARED` and stay mapped until `deinit`. The file's blocks are
/// allocated when it is created (`posix_fallocate`), so a write into the mapping cannot fault for want
/// of room in /dev/shm; the pages come into a process's memory as it touches them (not `MAP_POPULATE`:
/// an idle daemon, or a reader that never follows the ring, does not hold the whole data area).
final class RingMapping: @unchecked Sendable {
    // Invariant: the pointers stay valid until deinit; the fields they reach are either constant after
    // creation or accessed only through the atomics below.
    let header: UnsafeMutableRawPointer
    let data: UnsafeMutableRawPointer
    let capacity: Int
    let mask: UInt64
    let epoch: UInt64
    let firstSequence: UInt64
    /// The largest record (aligned) this ring holds: a change with the longest key, or the longest message.
    let maxRecordSize: Int
    /// Device and inode of the mapped file, to notice when the path is replaced by a new ring.
    let identity: FileIdentity

    let tailIntent: Atomics.UnsafeAtomic<UInt64>
    let tail: Atomics.UnsafeAtomic<UInt64>
    let latest: Atomics.UnsafeAtomic<UInt64>
    let nextSequence: Atomics.UnsafeAtomic<UInt64>
    let futexWord: Atomics.UnsafeAtomic<UInt32>
    let waiters: Atomics.UnsafeAtomic<UInt32>
    /// The publisher's descriptor of the file, holding an exclusive `flock` for the life of the mapping:
    /// what tells another daemon that this ring has a live owner (`liveOwner(of:)`). -1 in subscribers.
    private(set) var ownerLock: Int32 = -1

    private init(header: UnsafeMutableRawPointer, data: UnsafeMutableRawPointer, identity: FileIdentity) {
        self.header = header
        self.data = data
        self.identity = identity
        capacity = Int(header.load(fromByteOffset: RingLayout.capacityOffset, as: UInt64.self))
        mask = UInt64(capacity - 1)
        epoch = header.load(fromByteOffset: RingLayout.epochOffset, as: UInt64.self)
        firstSequence = header.load(fromByteOffset: RingLayout.firstSequenceOffset, as: UInt64.self)
        maxRecordSize = Int(header.load(fromByteOffset: RingLayout.maxRecordOffset, as: UInt32.self))
        tailIntent = RingMapping.atomic(header, RingLayout.tailIntentOffset)
        tail = RingMapping.atomic(header, RingLayout.tailOffset)
        latest = RingMapping.atomic(header, RingLayout.latestOffset)
        nextSequence = RingMapping.atomic(header, RingLayout.nextSequenceOffset)
        futexWord = RingMapping.atomic(header, RingLayout.futexOffset)
        waiters = RingMapping.atomic(header, RingLayout.waitersOffset)
    }

    deinit {
        if ownerLock >= 0 { Glibc.close(ownerLock) }
        munmap(header, RingLayout.headerSize)
        munmap(data, capacity)
    }

    private static func atomic<T: AtomicValue>(_ base: UnsafeMutableRawPointer, _ offset: Int) -> Atomics.UnsafeAtomic<T> {
        Atomics.UnsafeAtomic<T>(at: (base + offset).assumingMemoryBound(to: T.AtomicRepresentation.self))
    }

    /// The futex word's address, for FUTEX_WAIT/FUTEX_WAKE.
    var futexAddress: UnsafeMutablePointer<UInt32> {
        (header + RingLayout.futexOffset).assumingMemoryBound(to: UInt32.self)
    }

    /// Maps an existing ring file, checking that it is a complete ring of this layout.
    static func open(path: String, writableData: Bool) throws(RingError) -> RingMapping {
        let file = Descriptor(adopting: try checked("open(\(path))") { Glibc.open(path, O_RDWR | O_CLOEXEC) })
        let fd = file.rawValue
        var st = stat()
        try checked("fstat(\(path))") { fstat(fd, &st) }
        guard Int(st.st_size) >= RingLayout.headerSize + RingLayout.minCapacity else {
            throw .invalidFile("\(path) is \(st.st_size) bytes, too small for a ring")
        }
        let header = try map(fd: fd, offset: 0, length: RingLayout.headerSize, writable: true)
        let magic = atomic(header, RingLayout.magicOffset) as Atomics.UnsafeAtomic<UInt64>
        let version = header.load(fromByteOffset: RingLayout.versionOffset, as: UInt32.self)
        let headerSize = header.load(fromByteOffset: RingLayout.headerSizeOffset, as: UInt32.self)
        let capacity = Int(header.load(fromByteOffset: RingLayout.capacityOffset, as: UInt64.self))
        let maxRecord = Int(header.load(fromByteOffset: RingLayout.maxRecordOffset, as: UInt32.self))
        let problem: String? =
            if magic.load(ordering: .acquiring) != RingLayout.magic { "bad magic (not a ShmKV ring, or not finished)" }
            else if version != RingLayout.version { "layout version \(version), this build reads \(RingLayout.version)" }
            else if Int(headerSize) != RingLayout.headerSize { "header size \(headerSize)" }
            else if !RingLayout.isValidCapacity(capacity) { "capacity \(capacity)" }
            else if !RingLayout.isValidMaxRecordSize(maxRecord, capacity: capacity) { "largest record \(maxRecord) bytes" }
            else if Int(st.st_size) < RingLayout.headerSize + capacity { "file shorter than its capacity" }
            else { nil }
        if let problem {
            munmap(header, RingLayout.headerSize)
            throw .invalidFile("\(path): \(problem)")
        }
        let data: UnsafeMutableRawPointer
        do throws(RingError) {
            data = try map(fd: fd, offset: RingLayout.headerSize, length: capacity, writable: writableData)
        } catch {
            munmap(header, RingLayout.headerSize)
            throw error
        }
        return RingMapping(header: header, data: data, identity: FileIdentity(st))
    }

    /// Creates a ring file at `path`: a temporary file is sized, initialised and its magic stored last,
    /// then renamed into place, so a subscriber never sees a half-made ring. The new file is locked
    /// (`flock`, exclusive) before it appears at `path`, and stays locked while the mapping lives.
    /// Replaces a ring there only when no live process holds it: one that does is `.inUse`.
    static func create(path: String, capacity: Int, maxRecordSize: Int, firstSequence: UInt64, mode: mode_t,
                       group: gid_t?) throws(RingError) -> RingMapping {
        guard RingLayout.isValidCapacity(capacity) else { throw .invalidCapacity(capacity) }
        guard RingLayout.isValidMaxRecordSize(maxRecordSize, capacity: capacity) else {
            throw .invalidFile("records of up to \(maxRecordSize) bytes need a data area of at least \(maxRecordSize * 4) bytes")
        }
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let file = Descriptor(adopting: try checked("open(\(temporary))") { Glibc.open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode) })
        let fd = file.rawValue
        var keep = false
        defer { if !keep { unlink(temporary) } }
        try checked("flock(\(temporary))") { flock(fd, LOCK_EX | LOCK_NB) }
        if let group { try checked("fchown(\(temporary))") { fchown(fd, uid_t.max, group) } }
        try checked("fchmod(\(temporary))") { fchmod(fd, mode) }
        try checked("ftruncate(\(temporary))") { ftruncate(fd, off_t(RingLayout.headerSize + capacity)) }
        // Blocks for the whole file now: a file system without room fails here, with a message, rather
        // than with SIGBUS at the first write into a page it cannot back.
        let reserved = posix_fallocate(fd, 0, off_t(RingLayout.headerSize + capacity))
        if reserved != 0 { throw .system(SystemError(call: "posix_fallocate(\(temporary))", errno: Errno(rawValue: reserved))) }
        let header = try map(fd: fd, offset: 0, length: RingLayout.headerSize, writable: true)
        header.storeBytes(of: RingLayout.version, toByteOffset: RingLayout.versionOffset, as: UInt32.self)
        header.storeBytes(of: UInt32(RingLayout.headerSize), toByteOffset: RingLayout.headerSizeOffset, as: UInt32.self)
        header.storeBytes(of: UInt64(capacity), toByteOffset: RingLayout.capacityOffset, as: UInt64.self)
        header.storeBytes(of: UInt32(maxRecordSize), toByteOffset: RingLayout.maxRecordOffset, as: UInt32.self)
        // Below 2^53, so that the epoch survives JSON (shmkv stats --json) in any language.
        header.storeBytes(of: UInt64.random(in: 1..<(1 << 53)), toByteOffset: RingLayout.epochOffset, as: UInt64.self)
        header.storeBytes(of: firstSequence, toByteOffset: RingLayout.firstSequenceOffset, as: UInt64.self)
        header.storeBytes(of: UInt32(getpid()), toByteOffset: RingLayout.creatorPIDOffset, as: UInt32.self)
        header.storeBytes(of: firstSequence, toByteOffset: RingLayout.nextSequenceOffset, as: UInt64.self)
        (atomic(header, RingLayout.magicOffset) as Atomics.UnsafeAtomic<UInt64>).store(RingLayout.magic, ordering: .releasing)
        munmap(header, RingLayout.headerSize)
        if let owner = liveOwner(of: path) { throw .inUse(path: path, creatorPID: owner) }
        try checked("rename(\(temporary), \(path))") { rename(temporary, path) }
        keep = true
        let mapping = try open(path: path, writableData: true)
        mapping.ownerLock = try checked("dup(\(path))") { dup(fd) }
        return mapping
    }

    /// Whether another live process holds the ring at `path` (its publisher's `flock`): then the pid that
    /// created it (0 if unreadable); nil when there is no file or nobody holds it (a ring left by a
    /// daemon that was killed, which a new daemon may replace).
    static func liveOwner(of path: String) -> UInt32? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        guard flock(fd, LOCK_SH | LOCK_NB) != 0, errno == EWOULDBLOCK else { return nil }
        var pid: UInt32 = 0
        _ = pread(fd, &pid, 4, off_t(RingLayout.creatorPIDOffset))
        // This process's own earlier publisher (a restart within one process, as tests do) is not another.
        return pid == UInt32(getpid()) ? nil : pid
    }

    private static func map(fd: Int32, offset: Int, length: Int, writable: Bool) throws(RingError) -> UnsafeMutableRawPointer {
        let protection = writable ? PROT_READ | PROT_WRITE : PROT_READ
        let p = mmap(nil, length, protection, MAP_SHARED, fd, off_t(offset))
        guard let p, p != MAP_FAILED else { throw .system(.last("mmap")) }
        return p
    }

    /// A system call through the project's one errno path, its error as a `RingError`.
    @discardableResult
    private static func checked<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(RingError) -> T {
        do { return try syscallBlocking(name(), body) } catch { throw .system(error) }
    }
}

/// A file's device and inode: equal identities are the same file.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    /// The identity of whatever `path` names now, or nil if nothing does.
    static func of(path: String) -> FileIdentity? {
        var st = stat()
        return stat(path, &st) == 0 ? FileIdentity(st) : nil
    }
}
