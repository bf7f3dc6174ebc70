import StoreLayout

/// A run of list items being changed on the writer — a small list's packed items, or one chunk of a
/// large list (`ListChunk`) — as `PackedItems` lays them out: each a u32 little-endian length and its
/// bytes. A run holds at most a few KiB (or one long item), so an edit in the middle moves little.
struct ListRunBuffer {
    var count: Int
    var bytes: [UInt8]

    init(count: Int = 0, bytes: [UInt8] = []) {
        self.count = count
        self.bytes = bytes
    }

    /// Whether it holds more than one chunk may (a single long item always fits).
    var isOverfull: Bool { count > 1 && (count > ListChunk.maxItems || bytes.count > ListChunk.maxBytes) }

    /// The byte offset of each item (and the end, last).
    func offsets() -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(count + 1)
        bytes.withUnsafeBytes { raw in
            var reader = PackedItems.Reader(raw)
            result.append(0)
            while reader.item() != nil { result.append(reader.offset) }
        }
        return result
    }

    private func item(between start: Int, _ end: Int) -> [UInt8] { Array(bytes[(start + 4)..<end]) }

    static func encoded(_ item: UnsafeRawBufferPointer) -> [UInt8] {
        var element: [UInt8] = []
        element.reserveCapacity(PackedItems.size(item.count))
        PackedItems.append(item, to: &element)
        return element
    }

    mutating func append(_ item: UnsafeRawBufferPointer) {
        PackedItems.append(item, to: &bytes)
        count += 1
    }

    mutating func prepend(_ item: UnsafeRawBufferPointer) {
        // Room made at the front in place, then the length and the bytes written into it.
        let size = PackedItems.size(item.count)
        bytes.insert(contentsOf: repeatElement(0, count: size), at: 0)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(item.count).littleEndian, as: UInt32.self)
            if !item.isEmpty { UnsafeMutableRawBufferPointer(rebasing: raw[4..<size]).copyMemory(from: item) }
        }
        count += 1
    }

    mutating func insert(_ item: UnsafeRawBufferPointer, at index: Int) {
        if index == count { return append(item) }
        bytes.insert(contentsOf: ListRunBuffer.encoded(item), at: offsets()[index])
        count += 1
    }

    mutating func replace(at index: Int, with item: UnsafeRawBufferPointer) {
        let o = offsets()
        bytes.replaceSubrange(o[index]..<o[index + 1], with: ListRunBuffer.encoded(item))
    }

    /// Removes the first (or last) `n` items (at most `count`), returned in the order they were taken
    /// (from that end inwards) when `collect`. One pass over the items up to the cut, no offset table.
    mutating func take(fromHead: Bool, _ n: Int, collect: Bool) -> [[UInt8]] {
        let n = min(n, count)
        guard n > 0 else { return [] }
        var taken: [[UInt8]] = []
        if collect { taken.reserveCapacity(n) }
        // The cut: after the n-th item from the head, or before the n-th from the tail.
        let cut = bytes.withUnsafeBytes { raw -> Int in
            var reader = PackedItems.Reader(raw)
            for _ in 0..<(fromHead ? n : count - n) {
                guard let item = reader.item() else { break }
                if collect && fromHead { taken.append(Array(item)) }
            }
            let cut = reader.offset
            if collect && !fromHead {
                while let item = reader.item() { taken.append(Array(item)) }
                taken.reverse()
            }
            return cut
        }
        if fromHead { bytes.removeSubrange(0..<cut) } else { bytes.removeSubrange(cut...) }
        count -= n
        return taken
    }

    /// Removes up to `limit` items equal to `value` (0: every one), walking from the head (or the tail);
    /// how many it removed.
    mutating func remove(_ value: UnsafeRawBufferPointer, fromHead: Bool, limit: Int) -> Int {
        let o = offsets()
        var doomed: [Int] = []
        bytes.withUnsafeBytes { raw in
            for k in 0..<count {
                if limit > 0 && doomed.count == limit { break }
                let i = fromHead ? k : count - 1 - k
                if UnsafeRawBufferPointer(rebasing: raw[(o[i] + 4)..<o[i + 1]]).elementsEqual(value) { doomed.append(i) }
            }
        }
        for i in doomed.sorted(by: >) { bytes.removeSubrange(o[i]..<o[i + 1]) }
        count -= doomed.count
        return doomed.count
    }

    /// Splits into runs that each fit a chunk, in order.
    func chunked() -> [ListRunBuffer] {
        var runs: [ListRunBuffer] = []
        var run = ListRunBuffer()
        bytes.withUnsafeBytes { raw in
            var reader = PackedItems.Reader(raw)
            while let item = reader.item() {
                if !ListChunk.hasRoom(count: run.count, bytes: run.bytes.count, for: item.count) {
                    runs.append(run)
                    run = ListRunBuffer()
                }
                run.append(item)
            }
        }
        if run.count > 0 { runs.append(run) }
        return runs
    }

    /// The chunk record: the count, then the items.
    func withChunkRecord<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(byteCount: ListChunk.countSize + bytes.count, alignment: 8) { buffer in
            buffer.storeBytes(of: UInt32(count).littleEndian, as: UInt32.self)
            if !bytes.isEmpty { UnsafeMutableRawBufferPointer(rebasing: buffer[ListChunk.countSize...]).copyBytes(from: bytes) }
            return try body(UnsafeRawBufferPointer(buffer))
        }
    }
}
