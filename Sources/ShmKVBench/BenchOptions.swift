import ShmKV
import Wire

/// What a benchmark run does: the protocol and address, how many connections with how many requests
/// in flight on each, how long, and the mix of requests.
public struct BenchOptions: Sendable {
    public enum WireProtocol: String, Sendable, CaseIterable {
        case native
        case resp
    }

    public var address: ServerAddress
    public var wireProtocol: WireProtocol = .native
    public var credentials: Credentials?
    /// Connections, all driven by one event loop (as redis-benchmark does).
    public var clients = 50
    /// Requests sent together on a connection; the next group goes when all its replies are in.
    public var pipeline = 1
    /// Requests in all (when `duration` is nil).
    public var requests = 100_000
    /// Seconds to run instead of a request count.
    public var duration: Double?
    /// Keys `key:000000000000` … chosen uniformly at random (redis-benchmark `-r`'s names).
    public var keys = 100_000
    public var valueSize = 100
    /// The weights of GET and SET in the mix (`--ratio 1:0` is GETs only).
    public var getWeight = 1
    public var setWeight = 1
    /// SETs carry this time to live (seconds), when given.
    public var ttlSeconds: Int?
    /// Stores every key once before measuring (so that GETs hit).
    public var preload = true
    /// Seeds the key and operation choices (printed, so a run can be repeated).
    public var seed: UInt64 = 0x5EED

    public init(address: ServerAddress) { self.address = address }

    /// Parses `GET:SET` weights such as `1:1`, `9:1` or `0:1`.
    public static func parseRatio(_ text: String) -> (get: Int, set: Int)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let get = Int(parts[0]), let set = Int(parts[1]), get >= 0, set >= 0, get + set > 0 else { return nil }
        return (get, set)
    }
}

/// The bytes of one benchmark request, written straight into a connection's output (no per-request
/// arrays): the key's digits are patched into one reused key buffer.
struct RequestEncoder {
    static let keyPrefix: [UInt8] = Array("key:".utf8)
    static let keyDigits = 12
    private(set) var key: [UInt8] = RequestEncoder.keyPrefix + [UInt8](repeating: UInt8(ascii: "0"), count: RequestEncoder.keyDigits)
    let value: [UInt8]
    let ttlSeconds: Int?
    /// `$2\r\nEX\r\n$n\r\n<ttl>\r\n`, when SETs carry a time to live.
    private let ttlArguments: [UInt8]
    private let valueHeader: [UInt8]
    private var nextID: UInt32 = 1

    init(valueSize: Int, ttlSeconds: Int?) {
        value = [UInt8](repeating: UInt8(ascii: "x"), count: valueSize)
        self.ttlSeconds = ttlSeconds
        ttlArguments = ttlSeconds.map { Array("$2\r\nEX\r\n$\(String($0).utf8.count)\r\n\($0)\r\n".utf8) } ?? []
        valueHeader = Array("$\(valueSize)\r\n".utf8)
    }

    /// Writes key number `n` into the key buffer (zero-padded, as redis-benchmark's `__rand_int__`).
    mutating func setKey(_ n: Int) {
        var n = n
        var i = key.count - 1
        while i >= RequestEncoder.keyPrefix.count {
            key[i] = UInt8(ascii: "0") + UInt8(n % 10)
            n /= 10
            i -= 1
        }
    }

    /// Appends a native GET or PUT of the current key.
    mutating func appendNative(get: Bool, into out: inout [UInt8]) {
        let request: Request = get ? .get(key: key)
            : .put(key: key, value: value, condition: .always, expiry: ttlSeconds.map { .after(milliseconds: UInt64($0) * 1000) } ?? .persistent)
        request.encode(requestID: nextID, into: &out)
        nextID &+= 1
    }

    /// Appends a RESP `GET key` or `SET key value [EX ttl]`.
    func appendRESP(get: Bool, into out: inout [UInt8]) {
        let keyHeader: StaticString = "$16\r\n"
        if get {
            append("*2\r\n$3\r\nGET\r\n", to: &out)
        } else {
            append(ttlSeconds == nil ? "*3\r\n$3\r\nSET\r\n" : "*5\r\n$3\r\nSET\r\n", to: &out)
        }
        append(keyHeader, to: &out)
        out.append(contentsOf: key)
        append("\r\n", to: &out)
        guard !get else { return }
        out.append(contentsOf: valueHeader)
        out.append(contentsOf: value)
        append("\r\n", to: &out)
        out.append(contentsOf: ttlArguments)
    }

    private func append(_ text: StaticString, to out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }
}

/// xorshift64*: the benchmark's choices, fast and repeatable from a seed.
struct FastRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
}
