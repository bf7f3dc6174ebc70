/// A growable byte buffer with read and write indices, reused for a connection's whole life so that
/// steady-state reads allocate nothing.
public struct ByteBuffer: ~Copyable {
    private var storage: UnsafeMutableRawPointer
    /// Bytes allocated; grows by doubling in `reserveWritable`, never shrinks.
    public private(set) var capacity: Int
    /// Start of the bytes not consumed yet.
    public private(set) var readerIndex = 0
    /// End of the bytes written so far.
    public private(set) var writerIndex = 0

    /// An empty buffer of at least 64 bytes (one allocation).
    public init(capacity: Int) {
        self.capacity = max(capacity, 64)
        storage = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    /// Bytes written and not consumed.
    public var readableCount: Int { writerIndex - readerIndex }

    /// The readable bytes, valid until the buffer is next changed.
    public var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + readerIndex, count: readableCount)
    }

    /// Marks `n` readable bytes as consumed; an emptied buffer rewinds to its start.
    public mutating func consume(_ n: Int) {
        precondition(n <= readableCount)
        readerIndex += n
        if readerIndex == writerIndex { readerIndex = 0; writerIndex = 0 }
    }

    /// Makes room for at least `n` more bytes at the end, moving unread bytes to the front first
    /// and growing only if that is not enough.
    public mutating func reserveWritable(_ n: Int) {
        if capacity - writerIndex >= n { return }
        if readerIndex > 0 {
            let count = readableCount
            (storage).copyMemory(from: storage + readerIndex, byteCount: count)
            readerIndex = 0
            writerIndex = count
            if capacity - writerIndex >= n { return }
        }
        var newCapacity = capacity
        while newCapacity - writerIndex < n { newCapacity *= 2 }
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newStorage.copyMemory(from: storage, byteCount: writerIndex)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    /// The free space after the written bytes; call `didWrite` with what was filled.
    public var writable: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage + writerIndex, count: capacity - writerIndex)
    }

    /// Marks `n` bytes of `writable` as written; `n` beyond the free space traps.
    public mutating func didWrite(_ n: Int) {
        precondition(writerIndex + n <= capacity)
        writerIndex += n
    }

    /// Appends bytes (grows as needed).
    public mutating func write(_ bytes: UnsafeRawBufferPointer) {
        reserveWritable(bytes.count)
        if let base = bytes.baseAddress { (storage + writerIndex).copyMemory(from: base, byteCount: bytes.count) }
        writerIndex += bytes.count
    }

    /// Shrinks an idle buffer that grew for one large request back to `capacity` bytes.
    public mutating func shrinkIfIdle(to target: Int) {
        guard readableCount == 0, capacity > target else { return }
        storage.deallocate()
        capacity = target
        storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        readerIndex = 0
        writerIndex = 0
    }
}
