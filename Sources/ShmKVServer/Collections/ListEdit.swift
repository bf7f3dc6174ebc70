import LMDB
import StoreLayout
import Wire

/// One list being changed by one command on the writer. A small list's items are changed in a copy of
/// its packed record (`run`) and written back whole by `KeyspaceWriter.save`; a large one is changed a
/// chunk at a time in `__elements` (`ListChunk`), its header written by `save`. Pushes and pops at
/// either end read and write the end chunk only; an index is found by walking chunk counts from the
/// nearer end.
struct ListEdit: EditedCollection {
    let key: UnsafeRawBufferPointer
    var header: CollectionHeader
    /// The packed items while `header.isPacked`.
    private(set) var run: ListRunBuffer
    var existed: Bool
    let transaction: WriteTransaction
    let databases: StoreDatabases
    let limits: CollectionLimits
    let space: SpaceBudget?

    init(key: UnsafeRawBufferPointer, header: CollectionHeader, items: [UInt8], existed: Bool, transaction: WriteTransaction,
         databases: StoreDatabases, limits: CollectionLimits, space: SpaceBudget?) {
        self.key = key
        self.header = header
        run = ListRunBuffer(count: header.isPacked ? header.count : 0, bytes: items)
        self.existed = existed
        self.transaction = transaction
        self.databases = databases
        self.limits = limits
        self.space = space
    }

    private var elements: Database { databases.elements! }
    var count: Int { header.count }

    func withView<R>(_ body: (CollectionView) throws -> R) throws -> R {
        try run.bytes.withUnsafeBytes { try body(CollectionView(trusted: header, items: $0, transaction, elements)) }
    }

    var packedItems: [UInt8] { run.bytes }

    // MARK: Ends

    /// Pushes `item` at the head (or the tail).
    mutating func push(_ item: UnsafeRawBufferPointer, head: Bool) throws {
        header.count += 1
        if header.isPacked {
            if head { run.prepend(item) } else { run.append(item) }
            return try moveToChunksIfLarge()
        }
        guard let (position, chunk) = try endChunk(head: head) else { throw DamagedRecord("a large list has no chunk") }
        var edited = chunk
        if ListChunk.hasRoom(count: chunk.count, bytes: chunk.bytes.count, for: item.count) {
            if head { edited.prepend(item) } else { edited.append(item) }
            return try store(edited, at: position)
        }
        let (next, overflow) = head ? position.subtractingReportingOverflow(ListChunk.spacing) : position.addingReportingOverflow(ListChunk.spacing)
        var fresh = ListRunBuffer()
        fresh.append(item)
        if overflow {
            // Trillions of chunks pushed at one end: the list is renumbered around the middle again.
            return try rewriteAll(head ? [fresh] + (try allRuns()) : (try allRuns()) + [fresh])
        }
        try store(fresh, at: next)
    }

    /// Removes up to `n` items from the head (or the tail); returned in the order taken when `collect`.
    @discardableResult
    mutating func pop(head: Bool, _ n: Int, collect: Bool = true) throws -> [[UInt8]] {
        let n = min(n, header.count)
        guard n > 0 else { return [] }
        header.count -= n
        if header.isPacked { return run.take(fromHead: head, n, collect: collect) }
        var taken: [[UInt8]] = []
        var left = n
        while left > 0 {
            guard let (position, chunk) = try endChunk(head: head) else { throw DamagedRecord("a large list holds fewer items than it counts") }
            var edited = chunk
            let got = edited.take(fromHead: head, left, collect: collect)
            left -= min(left, chunk.count)
            taken.append(contentsOf: got)
            try store(edited, at: position)
        }
        return taken
    }

    // MARK: By index

    /// The item at `index` (0 ≤ index < count).
    func item(at index: Int) throws -> [UInt8] {
        try withView { view in try view.withListItem(at: index) { Array($0!) } }
    }

    /// Replaces the item at `index` (0 ≤ index < count).
    mutating func set(at index: Int, _ value: UnsafeRawBufferPointer) throws {
        if header.isPacked {
            run.replace(at: index, with: value)
            return try moveToChunksIfLarge()
        }
        var (position, chunk, local) = try locate(index)
        chunk.replace(at: local, with: value)
        try store(chunk, at: position)
    }

    /// Inserts `value` so that it becomes the item at `index` (0 ≤ index ≤ count).
    mutating func insert(_ value: UnsafeRawBufferPointer, at index: Int) throws {
        if index == 0 || index == header.count { return try push(value, head: index == 0) }
        header.count += 1
        if header.isPacked {
            run.insert(value, at: index)
            return try moveToChunksIfLarge()
        }
        var (position, chunk, local) = try locate(index)
        chunk.insert(value, at: local)
        try store(chunk, at: position)
    }

    /// Removes up to `limit` items equal to `value` (0: all), from the head (or the tail); how many.
    mutating func remove(_ value: UnsafeRawBufferPointer, fromHead: Bool, limit: Int) throws -> Int {
        if header.isPacked {
            let removed = run.remove(value, fromHead: fromHead, limit: limit)
            header.count -= removed
            return removed
        }
        var removed = 0
        let positions = try chunkPositions()
        for position in fromHead ? positions : positions.reversed() {
            if limit > 0 && removed == limit { break }
            var chunk = try load(position)
            let n = chunk.remove(value, fromHead: fromHead, limit: limit > 0 ? limit - removed : 0)
            guard n > 0 else { continue }
            removed += n
            try store(chunk, at: position)
        }
        header.count -= removed
        return removed
    }

    // MARK: Chunks

    /// The chunk at the head (or tail) end: its position and items.
    private func endChunk(head: Bool) throws -> (UInt64, ListRunBuffer)? {
        var found: (UInt64, ListRunBuffer)? = nil
        try withView { view in
            try view.walk(ElementKey.prefix(header.id, ListChunk.tag), reverse: !head, from: nil) { key, value in
                let (count, items) = try ListChunk.decode(value)
                found = (try ListChunk.position(key), ListRunBuffer(count: count, bytes: Array(items)))
                return .stop
            }
        }
        return found
    }

    /// The chunk holding the item at `index`, and the item's index in it; walks from the nearer end.
    private func locate(_ index: Int) throws -> (UInt64, ListRunBuffer, Int) {
        let reverse = index >= header.count / 2
        var skip = reverse ? header.count - 1 - index : index
        var found: (UInt64, ListRunBuffer, Int)? = nil
        try withView { view in
            try view.walk(ElementKey.prefix(header.id, ListChunk.tag), reverse: reverse, from: nil) { key, value in
                let (count, items) = try ListChunk.decode(value)
                if skip >= count {
                    skip -= count
                    return .proceed
                }
                found = (try ListChunk.position(key), ListRunBuffer(count: count, bytes: Array(items)), reverse ? count - 1 - skip : skip)
                return .stop
            }
        }
        guard let found else { throw DamagedRecord("a large list holds fewer items than it counts") }
        return found
    }

    private func chunkPositions() throws -> [UInt64] {
        var positions: [UInt64] = []
        try withView { view in
            try view.walk(ElementKey.prefix(header.id, ListChunk.tag), reverse: false, from: nil) { key, _ in
                positions.append(try ListChunk.position(key))
                return .proceed
            }
        }
        return positions
    }

    private func load(_ position: UInt64) throws -> ListRunBuffer {
        try transaction.withValue(elements, key: ListChunk.key(header.id, position)) { value in
            guard let value else { throw DamagedRecord("a list chunk is missing") }
            let (count, items) = try ListChunk.decode(value)
            return ListRunBuffer(count: count, bytes: Array(items))
        }
    }

    private func allRuns() throws -> [ListRunBuffer] { try chunkPositions().map(load) }

    /// Writes `chunk` back at `position`: deleted once empty, split (the new chunks placed between it
    /// and the next) once overfull.
    private mutating func store(_ chunk: ListRunBuffer, at position: UInt64) throws {
        let key = ListChunk.key(header.id, position)
        if chunk.count == 0 {
            _ = try transaction.delete(elements, key: key)
            return
        }
        guard chunk.isOverfull else {
            return try put(chunk, at: position)
        }
        let runs = chunk.chunked()
        var next: UInt64? = nil
        try withView { view in
            var after = key
            after.append(0)
            try view.walk(ElementKey.prefix(header.id, ListChunk.tag), reverse: false, from: after) { key, _ in
                next = try ListChunk.position(key)
                return .stop
            }
        }
        let (end, overflow) = position.addingReportingOverflow(ListChunk.spacing)
        let gap = next.map { $0 - position } ?? (overflow ? 0 : end - position)
        let step = gap / UInt64(runs.count)
        guard step > 0 else {
            // No room between the neighbours: the whole list is written again, evenly spaced.
            let positions = try chunkPositions()
            var all: [ListRunBuffer] = []
            for p in positions { all.append(contentsOf: p == position ? runs : [try load(p)]) }
            return try rewriteAll(all)
        }
        for (i, run) in runs.enumerated() {
            try put(run, at: position + UInt64(i) * step)
        }
    }

    private func put(_ run: ListRunBuffer, at position: UInt64) throws {
        try space?.spend(1)
        // The closures capture the two references they use, not a copy of the whole edit.
        let transaction = self.transaction, elements = self.elements
        try ListChunk.key(header.id, position).withUnsafeBytes { key in
            try run.withChunkRecord { try transaction.put(elements, key: key, value: $0) }
        }
    }

    /// Replaces every chunk with `runs`, spaced evenly around `ListChunk.firstPosition`.
    private mutating func rewriteAll(_ runs: [ListRunBuffer]) throws {
        for position in try chunkPositions() { _ = try transaction.delete(elements, key: ListChunk.key(header.id, position)) }
        let pieces = runs.flatMap { $0.chunked() }
        var position = ListChunk.firstPosition - UInt64(pieces.count / 2) * ListChunk.spacing
        for run in pieces {
            try put(run, at: position)
            position += ListChunk.spacing
        }
    }

    /// Moves a packed list that has outgrown its record to chunks under a new id.
    private mutating func moveToChunksIfLarge() throws {
        guard header.isPacked, header.count > PackedItems.maxElements || CollectionHeader.size + run.bytes.count > PackedItems.maxRecordBytes else { return }
        let runs = run.chunked()
        header = CollectionHeader(type: header.type, isPacked: false, encoding: header.encoding, count: header.count,
                                  id: try CollectionEdit.nextID(transaction, databases.meta))
        run = ListRunBuffer()
        try rewriteAll(runs)
    }
}
