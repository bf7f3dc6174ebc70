import FuzzReplay
import FuzzServer

/// libFuzzer target: each input sent as one client connection's bytes to a whole daemon in this
/// process (`FuzzServer`). Both protocols are reached (a leading 0xA5 is the native magic), so command
/// execution is fuzzed, not only framing.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzServer.exchange(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@main struct FuzzEntry {
    static func main() { fuzzMain { data, size in fuzzServer(data, size) } }
}
