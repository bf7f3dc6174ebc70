import Posix
import Reactor
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// One benchmark connection: sends its group of requests, reads and counts the replies.
final class BenchClient: EventHandler {
    private let descriptor: Descriptor
    var fd: Int32 { descriptor.rawValue }
    unowned let generator: LoadGenerator
    var output: [UInt8] = []
    /// Whether each request of the current group is a GET, in order.
    var kinds: [Bool] = []
    var nextKind = 0
    var outstanding = 0
    var batchStart = 0
    var closed = false
    private var input = [UInt8](repeating: 0, count: 256 * 1024)
    private var start = 0
    private var end = 0

    init(descriptor: consuming Descriptor, generator: LoadGenerator) {
        self.descriptor = descriptor
        self.generator = generator
        output.reserveCapacity(64 * 1024)
    }

    /// Writes the whole group (the socket blocks while its buffer is full).
    func send() {
        var offset = 0
        while offset < output.count {
            let n = output.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return generator.failed(self, "send: \(SystemError.last("send"))") }
            offset += n
        }
    }

    func handle(events: UInt32, loop: EventLoop) {
        while !closed {
            if end == input.count {
                // Keep unparsed bytes at the front; grow only for a reply larger than the buffer.
                if start > 0 {
                    input.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: end - start) }
                    end -= start
                    start = 0
                } else {
                    input.append(contentsOf: repeatElement(0, count: input.count))
                }
            }
            let n = input.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + end, $0.count - end, Int32(MSG_DONTWAIT)) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            guard n > 0 else { return generator.failed(self, n == 0 ? "the server closed the connection" : "recv: \(SystemError.last("recv"))") }
            end += n
            let filled = end == input.count
            parseReplies()
            if start == end { start = 0; end = 0 }
            // The socket had no more than this (epoll is level-triggered: it says when more comes), so
            // no second recv that would only answer EAGAIN.
            if !filled { return }
        }
    }

    private func parseReplies() {
        while start < end && outstanding > 0 && !closed {
            let parsed: (length: Int, error: String?, miss: Bool)?
            do {
                parsed = try input.withUnsafeBytes { raw in
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[start..<end])
                    return generator.options.wireProtocol == .native ? try BenchClient.nativeReply(bytes) : try BenchClient.respReply(bytes)
                }
            } catch {
                return generator.failed(self, "a reply did not parse: \(error)")
            }
            guard let parsed else { return }
            start += parsed.length
            generator.replied(self, error: parsed.error, miss: parsed.miss)
        }
    }

    /// A native reply frame: its length, an error text unless OK or NOT_FOUND, and whether it is NOT_FOUND.
    static func nativeReply(_ bytes: UnsafeRawBufferPointer) throws -> (length: Int, error: String?, miss: Bool)? {
        guard case .frame(let header, let body, let consumed) = try Native.decodeFrame(bytes, maxFrameSize: Native.defaultMaxFrameSize) else { return nil }
        let status = Status(rawValue: header.code)
        if status == .ok { return (consumed, nil, false) }
        if status == .notFound { return (consumed, nil, true) }
        return (consumed, "\(status.map { "\($0)" } ?? "status \(header.code)"): \(String(decoding: body, as: UTF8.self))", false)
    }

    /// A RESP2 reply of the kinds GET and SET answer (simple string, error, integer, bulk string or nil).
    static func respReply(_ bytes: UnsafeRawBufferPointer) throws -> (length: Int, error: String?, miss: Bool)? {
        guard let lineEnd = lineEnd(bytes) else { return nil }
        let line = UnsafeRawBufferPointer(rebasing: bytes[1..<lineEnd])
        switch bytes[0] {
        case UInt8(ascii: "+"), UInt8(ascii: ":"): return (lineEnd + 2, nil, false)
        case UInt8(ascii: "-"): return (lineEnd + 2, String(decoding: line, as: UTF8.self), false)
        case UInt8(ascii: "_"): return (lineEnd + 2, nil, true)
        case UInt8(ascii: "$"):
            guard let length = RedisInteger.parse(line), length >= -1, length < 1 << 32 else {
                throw BenchError(message: "bad bulk length")
            }
            if length == -1 { return (lineEnd + 2, nil, true) }
            let total = lineEnd + 2 + Int(length) + 2
            return bytes.count >= total ? (total, nil, false) : nil
        default:
            throw BenchError(message: "unexpected reply type \(bytes[0])")
        }
    }

    private static func lineEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        while i + 1 < bytes.count {
            if bytes[i] == 13 && bytes[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }
}
