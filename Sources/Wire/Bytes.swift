/// Little-endian appends onto a reusable byte array: the encoders' only output type.
extension Array where Element == UInt8 {
    /// Appends two bytes, low byte first.
    @inlinable public mutating func appendLE(_ v: UInt16) {
        append(UInt8(truncatingIfNeeded: v)); append(UInt8(truncatingIfNeeded: v >> 8))
    }
    /// Appends four bytes, low byte first.
    @inlinable public mutating func appendLE(_ v: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }
    /// Appends eight bytes, low byte first.
    @inlinable public mutating func appendLE(_ v: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }
    /// Overwrites four bytes at `offset` with `v`, little-endian.
    @inlinable public mutating func storeLE(_ v: UInt32, at offset: Int) {
        for i in 0..<4 { self[offset + i] = UInt8(truncatingIfNeeded: v >> UInt32(8 * i)) }
    }
}

/// Reads a request or reply body front to back; every read checks the bounds and throws
/// `WireError.malformed` instead of reading past the end.
public struct ByteReader {
    /// The whole body being read; borrowed, so it must outlive the reader.
    public let bytes: UnsafeRawBufferPointer
    /// Bytes read so far.
    public private(set) var offset = 0

    /// A reader at the start of `bytes`; copies nothing.
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Bytes not read yet.
    public var remaining: Int { bytes.count - offset }

    /// One byte; `what` names it in the error if the body ends first.
    public mutating func u8(_ what: String = "byte") throws(WireError) -> UInt8 {
        guard remaining >= 1 else { throw .malformed("truncated \(what)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A little-endian u16; `what` names it in the error if the body ends first.
    public mutating func u16(_ what: String = "u16") throws(WireError) -> UInt16 {
        guard remaining >= 2 else { throw .malformed("truncated \(what)") }
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    /// A little-endian u32; `what` names it in the error if the body ends first.
    public mutating func u32(_ what: String = "u32") throws(WireError) -> UInt32 {
        guard remaining >= 4 else { throw .malformed("truncated \(what)") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << UInt32(8 * i) }
        offset += 4
        return v
    }

    /// A little-endian u64; `what` names it in the error if the body ends first.
    public mutating func u64(_ what: String = "u64") throws(WireError) -> UInt64 {
        guard remaining >= 8 else { throw .malformed("truncated \(what)") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << UInt64(8 * i) }
        offset += 8
        return v
    }

    /// `count` raw bytes, in place.
    public mutating func slice(_ count: Int, _ what: String) throws(WireError) -> UnsafeRawBufferPointer {
        guard count >= 0, remaining >= count else { throw .malformed("truncated \(what)") }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    /// A key: u16 length, then the bytes.
    public mutating func key() throws(WireError) -> UnsafeRawBufferPointer {
        let n = try u16("key length")
        return try slice(Int(n), "key")
    }

    /// A value: u32 length, then the bytes.
    public mutating func value() throws(WireError) -> UnsafeRawBufferPointer {
        let n = try u32("value length")
        return try slice(Int(n), "value")
    }

    /// Everything not read yet.
    public mutating func rest() -> UnsafeRawBufferPointer {
        defer { offset = bytes.count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset...])
    }

    /// Throws unless the whole body was read.
    public func finish() throws(WireError) {
        if remaining != 0 { throw .malformed("\(remaining) unexpected trailing bytes") }
    }
}

extension Array where Element == UInt8 {
    /// Appends a key as the protocol carries it: u16 length, bytes.
    @inlinable public mutating func appendKey(_ key: UnsafeRawBufferPointer) {
        appendLE(UInt16(truncatingIfNeeded: key.count)); append(contentsOf: key)
    }
    /// Appends a value as the protocol carries it: u32 length, bytes.
    @inlinable public mutating func appendValue(_ value: UnsafeRawBufferPointer) {
        appendLE(UInt32(truncatingIfNeeded: value.count)); append(contentsOf: value)
    }
    /// Appends a key as the protocol carries it (u16 length, bytes); the caller checks the length.
    /// Appends a value as the protocol carries it (u32 length, bytes); the caller checks the length.
    @inlinable public mutating func appendKey(_ key: [UInt8]) { key.withUnsafeBytes { appendKey($0) } }
    @inlinable public mutating func appendValue(_ value: [UInt8]) { value.withUnsafeBytes { appendValue($0) } }
}
