import Histogram
import Posix
import Reactor
import ShmKV
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Where a run stands, reported about once a second while it runs.
public struct BenchProgress: Sendable {
    public var completed: Int
    public var seconds: Double
    /// Requests per second over the last interval.
    public var currentRate: Double
}

/// Drives `options.clients` connections from one event loop (the daemon's own `Reactor.EventLoop`):
/// each sends `pipeline` requests, and when all their replies are in, the next group. A reply's latency
/// is the time since its group was sent, as redis-benchmark measures it.
public final class LoadGenerator {
    let options: BenchOptions
    private let loop: EventLoop
    private var clients: [BenchClient] = []
    private var random: FastRandom
    var encoder: RequestEncoder
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
    private(set) var sent = 0
    var completed = 0
    var gets = 0
    var misses = 0
    var errors = 0
    var firstError: String?
    private var started = 0
    private var deadline = Int.max
    private var lastProgress: (completed: Int, at: Int) = (0, 0)

    public init(options: BenchOptions) throws(SystemError) {
        self.options = options
        loop = try EventLoop()
        random = FastRandom(seed: options.seed)
        encoder = RequestEncoder(valueSize: options.valueSize, ttlSeconds: options.ttlSeconds)
    }

    /// Connects, runs to the request count or the duration, and returns the figures. `progress` is
    /// called on the calling thread about once a second.
    public func run(progress: ((BenchProgress) -> Void)? = nil) throws -> BenchResult {
        for _ in 0..<options.clients {
            let descriptor = try RawSocket.open(address: options.address, native: options.wireProtocol == .native,
                                                credentials: options.credentials)
            let client = BenchClient(descriptor: descriptor, generator: self)
            try loop.register(client, events: Readiness.readable)
            clients.append(client)
        }
        defer { for client in clients { loop.unregister(client) } }
        started = MonotonicClock.nanoseconds()
        lastProgress = (0, started)
        if let duration = options.duration { deadline = started + Int(duration * 1e9) }
        if let progress { scheduleProgress(progress) }
        for client in clients { sendBatch(client) }
        while !finished { loop.runOnce(timeoutMilliseconds: 1000) }
        let elapsed = Double(MonotonicClock.nanoseconds() - started) / 1e9
        if let firstError, completed == errors { throw BenchError(message: "every request failed: \(firstError)") }
        return BenchResult(options: options, completed: completed, gets: gets, misses: misses, errors: errors,
                           seconds: elapsed, histogram: histogram, firstError: firstError)
    }

    private var finished: Bool { clients.allSatisfy { $0.outstanding == 0 || $0.closed } }

    private func scheduleProgress(_ progress: @escaping (BenchProgress) -> Void) {
        loop.schedule(afterMilliseconds: 1000) { [unowned self] in
            let now = MonotonicClock.nanoseconds()
            let rate = Double(completed - lastProgress.completed) / (Double(now - lastProgress.at) / 1e9)
            lastProgress = (completed, now)
            progress(BenchProgress(completed: completed, seconds: Double(now - started) / 1e9, currentRate: rate))
            if !finished { scheduleProgress(progress) }
        }
    }

    /// Sends `client` its next group of requests, if the run goes on.
    func sendBatch(_ client: BenchClient) {
        guard !client.closed else { return }
        var n = options.pipeline
        if options.duration == nil {
            n = min(n, options.requests - sent)
        } else if MonotonicClock.nanoseconds() >= deadline {
            n = 0
        }
        guard n > 0 else { return }
        client.output.removeAll(keepingCapacity: true)
        client.kinds.removeAll(keepingCapacity: true)
        let totalWeight = options.getWeight + options.setWeight
        for _ in 0..<n {
            let get = random.below(totalWeight) < options.getWeight
            encoder.setKey(random.below(options.keys))
            switch options.wireProtocol {
            case .native: encoder.appendNative(get: get, into: &client.output)
            case .resp: encoder.appendRESP(get: get, into: &client.output)
            }
            client.kinds.append(get)
        }
        sent += n
        client.outstanding = n
        client.nextKind = 0
        client.batchStart = MonotonicClock.nanoseconds()
        client.send()
    }

    /// Notes one reply of `client`'s current group.
    func replied(_ client: BenchClient, error: String?, miss: Bool) {
        let latency = MonotonicClock.nanoseconds() - client.batchStart
        _ = histogram.record(UInt64(max(0, latency)))
        completed += 1
        if client.kinds[client.nextKind] { gets += 1 }
        client.nextKind += 1
        if miss { misses += 1 }
        if let error {
            errors += 1
            if firstError == nil { firstError = error }
        }
        client.outstanding -= 1
        if client.outstanding == 0 { sendBatch(client) }
    }

    /// A connection failed: its requests in flight count as errors and it sends no more.
    func failed(_ client: BenchClient, _ reason: String) {
        errors += client.outstanding
        completed += client.outstanding
        client.outstanding = 0
        client.closed = true
        if firstError == nil { firstError = reason }
        loop.unregister(client)
    }
}

/// A benchmark that cannot go on.
public struct BenchError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
