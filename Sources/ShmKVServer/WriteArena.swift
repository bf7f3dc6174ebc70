#if canImport(Glibc)
import Glibc
#endif

/// Where one reactor keeps the bytes of its queued writes: a request's key and value are copied here
/// once, straight from the connection's input, and read in place by whichever thread commits them (into
/// LMDB: the second and last copy). No allocation per write: the bytes go into fixed chunks, and a chunk
/// is used again once every write stored in it has been answered.
///
/// Only the owning reactor's thread stores and releases (`ServerConnection.submit`, and
/// `ReactorThread.complete` when the outcome comes back). The committing thread only reads, and the
/// write queue's lock orders its reads after the store; a chunk is reused only after the outcome of its
/// last write was handed back, which is after the commit read it.
final class WriteArena {
    /// Bytes per chunk; a write whose key and value together are larger is not stored here (its
    /// operation keeps arrays of its own: one allocation beside such a copy costs nothing).
    static let chunkSize = 64 << 10
    static let largestStored = 8 << 10
    /// Chunks kept for reuse beyond the one in use; more are freed when they empty.
    static let chunksKept = 16

    private var chunks: [UnsafeMutableRawPointer?] = []
    /// Writes stored in each chunk and not yet answered.
    private var pending: [Int] = []
    /// Empty chunks other than `current`, by index.
    private var spare: [Int] = []
    private var current = -1
    private var used = 0

    deinit {
        for chunk in chunks { chunk?.deallocate() }
    }

    /// Copies `key` and `value` side by side into the arena; nil if they are too large for it. The
    /// result's chunk must be given back to `release` once the write is answered (or was not queued).
    func store(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)
        -> (chunk: Int32, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        let size = key.count + value.count
        guard size <= WriteArena.largestStored else { return nil }
        if current < 0 || used + size > WriteArena.chunkSize { moveToEmptyChunk() }
        let base = chunks[current]! + used
        if let k = key.baseAddress, !key.isEmpty { base.copyMemory(from: k, byteCount: key.count) }
        if let v = value.baseAddress, !value.isEmpty { (base + key.count).copyMemory(from: v, byteCount: value.count) }
        used += size
        pending[current] += 1
        return (Int32(current), UnsafeRawBufferPointer(start: base, count: key.count),
                UnsafeRawBufferPointer(start: base + key.count, count: value.count))
    }

    /// One write stored in `chunk` has been answered.
    func release(_ chunk: Int32) {
        let index = Int(chunk)
        pending[index] -= 1
        guard pending[index] == 0 else { return }
        if index == current {
            used = 0
        } else if spare.count < WriteArena.chunksKept {
            spare.append(index)
        } else {
            chunks[index]?.deallocate()
            chunks[index] = nil
        }
    }

    /// Bytes held in chunks (the tests check that spares are bounded).
    var bytesHeld: Int { chunks.count { $0 != nil } * WriteArena.chunkSize }

    private func moveToEmptyChunk() {
        used = 0
        // Nothing of the current chunk is in flight: start it again. Otherwise it is left to its
        // writes, and becomes spare when the last of them is answered (`release`).
        if current >= 0 && pending[current] == 0 { return }
        if let next = spare.popLast() {
            current = next
            return
        }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: WriteArena.chunkSize, alignment: 16)
        if let free = chunks.firstIndex(where: { $0 == nil }) {
            chunks[free] = memory
            current = free
        } else {
            chunks.append(memory)
            pending.append(0)
            current = chunks.count - 1
        }
    }
}
