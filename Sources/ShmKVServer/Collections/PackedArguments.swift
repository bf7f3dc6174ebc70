import StoreLayout

/// A command that applies itself on the writer (`StoredWrite.command`): it reads the command's arguments
/// as its handler did and answers Redis's reply. Every key's type is checked before anything changes
/// (`WrongTypeError` then answers WRONGTYPE).
typealias WriteApply = @Sendable (inout KeyspaceWriter, RESPArguments) throws -> CommandResult

/// A command's arguments as a queued write carries them: each a u32 little-endian length and its bytes
/// (`PackedItems`' layout).
enum PackedArguments {
    /// Bytes `args` take packed.
    static func size(_ args: RESPArguments) -> Int {
        var size = 0
        for i in 0..<args.count { size += PackedItems.size(args[i].count) }
        return size
    }

    /// Packs `args` into `buffer`, which holds `size(args)` bytes.
    static func fill(_ buffer: UnsafeMutableRawBufferPointer, _ args: RESPArguments) {
        var offset = 0
        for i in 0..<args.count {
            let arg = args[i]
            buffer.storeBytes(of: UInt32(arg.count).littleEndian, toByteOffset: offset, as: UInt32.self)
            if !arg.isEmpty { UnsafeMutableRawBufferPointer(rebasing: buffer[(offset + 4)...]).copyMemory(from: arg) }
            offset += 4 + arg.count
        }
    }

    /// Calls `body` with the arguments packed in `bytes` (which `fill` wrote).
    static func withArguments<R>(_ bytes: UnsafeRawBufferPointer, _ body: (RESPArguments) throws -> R) rethrows -> R {
        var ranges: [Range<Int>] = []
        var reader = PackedItems.Reader(bytes)
        while !reader.atEnd {
            let start = reader.offset + 4
            guard let item = reader.item() else { break }
            ranges.append(start..<(start + item.count))
        }
        return try body(RESPArguments(base: bytes, ranges: ranges))
    }
}
