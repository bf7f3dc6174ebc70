import LMDB

/// A large list's chunks in `__elements` (docs/STORAGE.md): the list's items in runs of at most
/// `maxItems` items and `maxBytes` bytes (a single longer item has a chunk to itself), each one record
/// keyed `id ‖ c ‖ position` (the position 8 bytes big-endian: key order is list order) whose value is a
/// u32 little-endian item count and then the items packed as `PackedItems` packs them. The first chunk
/// of a list is at `firstPosition`; a chunk pushed before the head or after the tail takes the next
/// position `spacing` away, and a chunk split in the middle takes the position halfway to its
/// neighbour, so pushes and pops at either end touch one record whatever the list's length.
public enum ListChunk {
    public static let tag: UInt8 = 0x63  // "c"
    public static let maxItems = 128
    public static let maxBytes = 4096
    public static let firstPosition: UInt64 = 1 << 63
    public static let spacing: UInt64 = 1 << 20
    /// Bytes before a chunk's items: its count.
    public static let countSize = 4
    /// Bytes of a chunk key.
    public static let keySize = ElementKey.prefixSize + 8

    /// The key of the chunk at `position` of list `id`.
    public static func key(_ id: UInt64, _ position: UInt64) -> [UInt8] {
        var bytes = ElementKey.prefix(id, tag)
        withUnsafeBytes(of: position.bigEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The position in a chunk key.
    public static func position(_ key: UnsafeRawBufferPointer) throws -> UInt64 {
        guard key.count == keySize else { throw DamagedRecord("a list chunk's key is not \(keySize) bytes") }
        return UInt64(bigEndian: key.loadUnaligned(fromByteOffset: ElementKey.prefixSize, as: UInt64.self))
    }

    /// The item count and the items of a chunk record, checked once (every length inside the value).
    public static func decode(_ value: UnsafeRawBufferPointer) throws -> (count: Int, items: UnsafeRawBufferPointer) {
        guard value.count >= countSize else { throw DamagedRecord("a list chunk holds no count") }
        let count = Int(UInt32(littleEndian: value.loadUnaligned(as: UInt32.self)))
        let items = UnsafeRawBufferPointer(rebasing: value[countSize...])
        guard count > 0, PackedItems.isValid(items, type: .list, elements: count) else {
            throw DamagedRecord("a list chunk does not hold the \(count) items it counts")
        }
        return (count, items)
    }

    /// Whether a chunk of `count` items in `bytes` bytes may take one more item of `length` bytes.
    public static func hasRoom(count: Int, bytes: Int, for length: Int) -> Bool {
        count == 0 || (count < maxItems && bytes + PackedItems.size(length) <= maxBytes)
    }
}

/// Offsets of the items of a packed run, so that it can be walked backwards.
enum PackedOffsets {
    /// Calls `body` with the byte offset of each of the `count` items in `items`.
    static func with<R>(_ items: UnsafeRawBufferPointer, count: Int, _ body: (UnsafeBufferPointer<Int>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: Int.self, capacity: max(count, 1)) { offsets in
            var reader = PackedItems.Reader(items)
            var n = 0
            while n < count {
                offsets[n] = reader.offset
                guard reader.item() != nil else { break }
                n += 1
            }
            return try body(UnsafeBufferPointer(rebasing: offsets[0..<n]))
        }
    }

    static func item(_ items: UnsafeRawBufferPointer, at offset: Int) -> UnsafeRawBufferPointer {
        var reader = PackedItems.Reader(UnsafeRawBufferPointer(rebasing: items[offset...]))
        return reader.item()!
    }
}

/// A list's items, read in place.
extension CollectionView {
    /// Each item from the `skip`th on, from the head (reverse: from the tail, `skip` counted from the
    /// tail), while `body` says proceed.
    public func forEachListItem(reverse: Bool = false, skip: Int = 0,
                                _ body: (UnsafeRawBufferPointer) throws -> IterationControl) throws {
        var toSkip = skip
        if header.isPacked {
            _ = try ListRun.walk(items, count: header.count, reverse: reverse, skip: &toSkip, body)
            return
        }
        try walk(ElementKey.prefix(header.id, ListChunk.tag), reverse: reverse, from: nil) { _, value in
            let (count, items) = try ListChunk.decode(value)
            if toSkip >= count {
                toSkip -= count
                return .proceed
            }
            return try ListRun.walk(items, count: count, reverse: reverse, skip: &toSkip, body)
        }
    }

    /// Calls `body` with the item at `index` (negative: from the tail, -1 the last), or nil past either
    /// end. Walks from the nearer end.
    public func withListItem<R>(at index: Int, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        let n = header.count
        let i = index < 0 ? n + index : index
        guard i >= 0, i < n else { return try body(nil) }
        let reverse = i >= n / 2
        var result: R? = nil
        try forEachListItem(reverse: reverse, skip: reverse ? n - 1 - i : i) { item in
            result = try body(item)
            return .stop
        }
        guard let result else { throw DamagedRecord("a list holds fewer items than its header counts") }
        return result
    }
}

/// One packed run of list items (a small list's record, or a chunk).
enum ListRun {
    /// Walks the run, first skipping `skip` items (decremented as they go); `.stop` if `body` stopped.
    static func walk(_ items: UnsafeRawBufferPointer, count: Int, reverse: Bool, skip: inout Int,
                     _ body: (UnsafeRawBufferPointer) throws -> IterationControl) throws -> IterationControl {
        if !reverse {
            var reader = PackedItems.Reader(items)
            while let item = reader.item() {
                if skip > 0 { skip -= 1; continue }
                if try body(item) == .stop { return .stop }
            }
            return .proceed
        }
        return try PackedOffsets.with(items, count: count) { offsets in
            for offset in offsets.reversed() {
                if skip > 0 { skip -= 1; continue }
                if try body(PackedOffsets.item(items, at: offset)) == .stop { return .stop }
            }
            return .proceed
        }
    }
}
