import FuzzReplay
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer target: the native protocol's hello, frame decoder and request parser, as the server runs
/// them, and every parsed request's owned copy re-encoded and parsed again (it must round-trip).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNativeDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    _ = try? Native.parseClientHello(bytes)
    _ = try? Native.parseServerHello(bytes)
    var offset = 0
    while offset < bytes.count {
        let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
        guard let decoded = try? Native.decodeFrame(rest, maxFrameSize: 1 << 20),
              case .frame(let header, let body, let consumed) = decoded else { break }
        precondition(consumed >= Native.headerSize && consumed <= rest.count)
        if let view = try? RequestView(header: header, body: body) {
            let owned = Request(view)
            let again = owned.encoded(requestID: header.requestID)
            let reparsed = again.withUnsafeBytes { raw -> Request? in
                guard case .frame(let h, let b, _)? = try? Native.decodeFrame(raw, maxFrameSize: 1 << 30),
                      let v = try? RequestView(header: h, body: b) else { return nil }
                return Request(v)
            }
            precondition(reparsed == owned, "request does not round-trip")
        }
        // Replies to every opcode must decode safely too (the client reads them).
        for op in Opcode.allCases { _ = try? Reply(header: header, body: body, answering: op) }
        offset += consumed
    }
    return 0
}

@main struct FuzzEntry {
    static func main() { fuzzMain { data, size in fuzzNativeDecoder(data, size) } }
}
