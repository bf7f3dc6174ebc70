/// The native protocol's constants, handshake and frame layer. Byte-exact description: docs/PROTOCOL.md.
public enum Native {
    /// First byte of every native connection. Not ASCII, so it never starts a RESP request.
    public static let magicByte: UInt8 = 0xA5
    /// The four-byte magic: 0xA5 'S' 'K' 'V'.
    public static let magic: [UInt8] = [0xA5, 0x53, 0x4B, 0x56]
    /// The protocol version this build speaks.
    public static let version: UInt8 = 1
    /// Client hello: magic, version, flags, two reserved bytes.
    public static let clientHelloSize = 8
    /// Server hello: magic, version, status, two reserved bytes, u32 max frame size.
    public static let serverHelloSize = 12
    /// Frame header: u32 length, u8 code, u8 flags, u32 request id.
    public static let headerSize = 10
    /// The length field counts the bytes after itself, so it is at least code + flags + id.
    public static let minimumLength = 6
    /// The default limit of one frame (header + body).
    public static let defaultMaxFrameSize = 64 * 1024 * 1024 + 64 * 1024

    /// The bytes a client sends first.
    public static func clientHello(version: UInt8 = Native.version) -> [UInt8] {
        magic + [version, 0, 0, 0]
    }

    /// Reads a client hello; `nil` if fewer than 8 bytes are there yet. Returns the client's version.
    public static func parseClientHello(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> UInt8? {
        guard bytes.count >= clientHelloSize else {
            // Reject a wrong magic as early as its first byte.
            for i in 0..<min(bytes.count, magic.count) where bytes[i] != magic[i] { throw .badMagic }
            return nil
        }
        for i in 0..<4 where bytes[i] != magic[i] { throw .badMagic }
        return bytes[4]
    }

    /// The server's answer to a hello.
    public static func serverHello(status: Status, maxFrameSize: Int) -> [UInt8] {
        var out = magic + [version, status.rawValue, 0, 0]
        out.appendLE(UInt32(clamping: maxFrameSize))
        return out
    }

    /// Reads a server hello; `nil` if incomplete. Returns the server's version, status and frame limit.
    public static func parseServerHello(_ bytes: UnsafeRawBufferPointer) throws(WireError)
        -> (version: UInt8, status: Status, maxFrameSize: Int)?
    {
        guard bytes.count >= serverHelloSize else { return nil }
        for i in 0..<4 where bytes[i] != magic[i] { throw .badMagic }
        guard let status = Status(rawValue: bytes[5]) else { throw .malformed("unknown hello status \(bytes[5])") }
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[8..<12]))
        return (bytes[4], status, Int(try r.u32()))
    }
}

/// The fixed part of a frame. `code` is an `Opcode` in a request and a `Status` in a reply.
public struct FrameHeader: Sendable, Equatable {
    /// The opcode (request) or status (reply); from `0x80`, a server push.
    public var code: UInt8
    /// Per-opcode flags (PUT's condition); 0 otherwise.
    public var flags: UInt8
    /// Chosen by the client, echoed by the server.
    public var requestID: UInt32
    /// Bytes after the header (the frame's length minus the header).
    public var bodyLength: Int

    /// A header.
    public init(code: UInt8, flags: UInt8, requestID: UInt32, bodyLength: Int) {
        self.code = code
        self.flags = flags
        self.requestID = requestID
        self.bodyLength = bodyLength
    }
}

/// One step of the incremental frame decoder.
public enum FrameDecodeResult {
    /// Not a whole frame yet: keep the bytes and call again when more arrive.
    case needMore
    /// A whole frame; `body` points into the input and `consumed` bytes may be dropped after use.
    case frame(FrameHeader, body: UnsafeRawBufferPointer, consumed: Int)
}

extension Native {
    /// Decodes the first frame in `bytes`, accepting any split of the stream: with fewer bytes than a
    /// frame it returns `.needMore` and allocates nothing. A length over `maxFrameSize` throws
    /// `.frameTooLarge` as soon as the length field is in, before any body is buffered.
    public static func decodeFrame(_ bytes: UnsafeRawBufferPointer, maxFrameSize: Int) throws(WireError)
        -> FrameDecodeResult
    {
        guard bytes.count >= 4 else { return .needMore }
        let length = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        guard length >= minimumLength else { throw .malformed("frame length \(length) is below the minimum \(minimumLength)") }
        guard length + 4 <= maxFrameSize else { throw .frameTooLarge(length: length + 4, limit: maxFrameSize) }
        guard bytes.count >= length + 4 else { return .needMore }
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[4..<10]))
        let code = try r.u8(), flags = try r.u8(), id = try r.u32()
        let body = UnsafeRawBufferPointer(rebasing: bytes[headerSize..<(length + 4)])
        return .frame(FrameHeader(code: code, flags: flags, requestID: id, bodyLength: length - minimumLength),
                      body: body, consumed: length + 4)
    }

    /// Starts a frame in `out`; write the body after it, then call `endFrame` with the returned offset.
    @inlinable
    public static func beginFrame(code: UInt8, flags: UInt8 = 0, requestID: UInt32, into out: inout [UInt8]) -> Int {
        let start = out.count
        out.appendLE(UInt32(0))
        out.append(code)
        out.append(flags)
        out.appendLE(requestID)
        return start
    }

    /// Patches the length field of the frame begun at `start`.
    @inlinable
    public static func endFrame(at start: Int, in out: inout [UInt8]) {
        out.storeLE(UInt32(out.count - start - 4), at: start)
    }
}

/// Errors of the codecs. Each says what was wrong with the bytes.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The connection's first bytes were not the native magic.
    case badMagic
    /// A frame (header + body) longer than the configured limit.
    case frameTooLarge(length: Int, limit: Int)
    /// An opcode this version does not know.
    case unknownOpcode(UInt8)
    /// The bytes do not follow the protocol; the text says where.
    case malformed(String)

    /// One line naming the fault, sent to the peer in the close reason and logged.
    public var description: String {
        switch self {
        case .badMagic: "bad magic: not a ShmKV native connection"
        case .frameTooLarge(let length, let limit): "frame of \(length) bytes exceeds the limit of \(limit) bytes"
        case .unknownOpcode(let op): "unknown opcode \(op)"
        case .malformed(let what): "malformed frame: \(what)"
        }
    }
}
