#if canImport(Glibc)
import Glibc
#endif

/// Where one reactor keeps the bytes of its queued writes: a request's keys and values are copied here
/// once, straight from the connection's input, and read in place by whichever thread commits them (into
/// LMDB: the second and last copy). No allocation per write: the bytes go into fixed chunks, and a chunk
/// is used again once every write stored in it has been answered. A write larger than `largestStored`
/// gets a block of its own (one allocation, freed when it is answered), so that every write takes the
/// same path.
///
/// Only the owning reactor's thread stores and releases (`ServerConnection.submit`, and
/// `ReactorThread.complete` when the outcome comes back). The committing thread only reads, and the
/// write queue's lock orders its reads after the store; a chunk is reused only after the outcome of its
/// last write was handed back, which is after the commit read it.
final class WriteArena {
    /// Bytes per chunk.
    static let chunkSize = 64 << 10
    /// The largest write stored in a shared chunk; a larger one gets a block of its own (one allocation
    /// beside such a copy costs nothing).
    static let largestStored = 8 << 10
    /// Chunks kept for reuse beyond the one in use; more are freed when they empty.
    static let chunksKept = 16

    private var chunks: [UnsafeMutableRawPointer?] = []
    /// Writes stored in each chunk and not yet answered.
    private var pending: [Int] = []
    /// Bytes of each block: `chunkSize` for a shared chunk, more for a write's own block.
    private var sizes: [Int] = []
    /// Empty chunks other than `current`, by index.
    private var spare: [Int] = []
    /// Slots whose block was freed, for the next block (no search through the slots).
    private var freeSlots: [Int] = []
    private var current = -1
    private var used = 0

    deinit {
        for chunk in chunks { chunk?.deallocate() }
    }

    /// `byteCount` bytes for one write, for the caller to fill before it queues the write. The chunk
    /// must be given back to `release` once the write is answered (or was not queued).
    func reserve(_ byteCount: Int) -> (chunk: Int32, bytes: UnsafeMutableRawBufferPointer) {
        guard byteCount <= WriteArena.largestStored else { return reserveBlock(byteCount) }
        if current < 0 || used + byteCount > WriteArena.chunkSize { moveToEmptyChunk() }
        let base = chunks[current]! + used
        used += byteCount
        pending[current] += 1
        return (Int32(current), UnsafeMutableRawBufferPointer(start: base, count: byteCount))
    }

    /// One write stored in `chunk` has been answered.
    func release(_ chunk: Int32) {
        let index = Int(chunk)
        pending[index] -= 1
        guard pending[index] == 0 else { return }
        if index == current {
            used = 0
        } else if sizes[index] == WriteArena.chunkSize && spare.count < WriteArena.chunksKept {
            spare.append(index)
        } else {
            chunks[index]?.deallocate()
            chunks[index] = nil
            freeSlots.append(index)
        }
    }

    /// Bytes held in chunks and blocks (the tests check that spares are bounded and blocks freed).
    var bytesHeld: Int { chunks.indices.reduce(0) { $0 + (chunks[$1] == nil ? 0 : sizes[$1]) } }

    private func moveToEmptyChunk() {
        used = 0
        // Nothing of the current chunk is in flight: start it again. Otherwise it is left to its
        // writes, and becomes spare when the last of them is answered (`release`).
        if current >= 0 && pending[current] == 0 { return }
        if let next = spare.popLast() {
            current = next
            return
        }
        current = place(UnsafeMutableRawPointer.allocate(byteCount: WriteArena.chunkSize, alignment: 16), size: WriteArena.chunkSize)
    }

    /// A block of its own for a large write: never current, never spare.
    private func reserveBlock(_ byteCount: Int) -> (chunk: Int32, bytes: UnsafeMutableRawBufferPointer) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 16)
        let index = place(memory, size: byteCount)
        pending[index] = 1
        return (Int32(index), UnsafeMutableRawBufferPointer(start: memory, count: byteCount))
    }

    /// Records a new block in a free slot; its index.
    private func place(_ memory: UnsafeMutableRawPointer, size: Int) -> Int {
        if let free = freeSlots.popLast() {
            chunks[free] = memory
            sizes[free] = size
            return free
        }
        chunks.append(memory)
        pending.append(0)
        sizes.append(size)
        return chunks.count - 1
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Copies `key` then `value` to the start of this buffer; where they now lie.
    func storePair(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer)
        -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard let base = baseAddress else { return (UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0)) }
        if let k = key.baseAddress, !key.isEmpty { base.copyMemory(from: k, byteCount: key.count) }
        if let v = value.baseAddress, !value.isEmpty { (base + key.count).copyMemory(from: v, byteCount: value.count) }
        return (UnsafeRawBufferPointer(start: base, count: key.count), UnsafeRawBufferPointer(start: base + key.count, count: value.count))
    }
}

/// Several keys, or key-value pairs, packed into one buffer as the native protocol packs them (u16
/// length and bytes per key, u32 length and bytes per value): the bytes of a DEL or MSET of several
/// keys (`StoredWrite.deleteMany`, `.mput`), read back with `PackedKeys` and `PackedPairs`.
struct PackedWriter {
    static func size(key: UnsafeRawBufferPointer) -> Int { 2 + key.count }
    static func size(value: UnsafeRawBufferPointer) -> Int { 4 + value.count }

    private let buffer: UnsafeMutableRawBufferPointer
    private var offset = 0

    /// Writes from the start of `buffer`, which must hold every size the caller summed.
    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    mutating func key(_ key: UnsafeRawBufferPointer) {
        buffer.storeBytes(of: UInt16(key.count).littleEndian, toByteOffset: offset, as: UInt16.self)
        copy(key, at: offset + 2)
    }

    mutating func value(_ value: UnsafeRawBufferPointer) {
        buffer.storeBytes(of: UInt32(value.count).littleEndian, toByteOffset: offset, as: UInt32.self)
        copy(value, at: offset + 4)
    }

    private mutating func copy(_ bytes: UnsafeRawBufferPointer, at start: Int) {
        if let source = bytes.baseAddress, !bytes.isEmpty {
            (buffer.baseAddress! + start).copyMemory(from: source, byteCount: bytes.count)
        }
        offset = start + bytes.count
    }
}
