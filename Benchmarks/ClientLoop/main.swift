// shmkv-bench: request rates and latency percentiles of the native protocol through `Client`.
//
//   shmkv-bench --socket ./data/shmkvd.sock [--requests 100000] [--pipeline 1,16,64] [--value-size 32]
//
// For each pipeline depth it runs GET then PUT and prints requests per second; at depth 1 it also prints
// round-trip percentiles (HdrHistogram). It prints numbers; it never passes or fails.
import ArgumentParser
import Histogram
import ShmKV

#if canImport(Glibc)
import Glibc
#endif

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "shmkv-bench",
        abstract: "Measure GET/PUT rates of shmkvd over its native protocol.")

    @Option(help: "Unix socket of the daemon.") var socket: String?
    @Option(help: "TCP host (instead of --socket).") var host: String?
    @Option(help: "TCP port.") var port: Int = 7379
    @Option(help: "Requests per measurement.") var requests: Int = 100_000
    @Option(help: "Pipeline depths, comma separated.") var pipeline: String = "1,16,64"
    @Option(help: "Value size in bytes.") var valueSize: Int = 32
    @Option(help: "Distinct keys.") var keys: Int = 10_000

    func run() throws {
        let client = socket.map { try? Client(socketPath: $0) } ?? (host.map { try? Client(host: $0, port: port) } ?? nil)
        guard let client else { throw ValidationError("cannot connect (give --socket PATH or --host H --port P)") }
        let value = [UInt8](repeating: 0x76, count: valueSize)
        let keyBytes = (0..<keys).map { Array("bench:key:\($0)".utf8) }
        // Preload so GETs hit.
        for start in stride(from: 0, to: keys, by: 1000) {
            try client.mput((start..<min(start + 1000, keys)).map { KeyValue(key: keyBytes[$0], value: value) })
        }
        print("target=\(client.address) requests=\(requests) value=\(valueSize)B keys=\(keys)")
        print("op   depth  req/s      p50_us  p99_us  p99.9_us")
        for depth in pipeline.split(separator: ",").compactMap({ Int($0) }) {
            for op in ["GET", "PUT"] {
                var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
                let rounds = max(1, requests / depth)
                var batch: [Request] = []
                batch.reserveCapacity(depth)
                let start = now()
                for round in 0..<rounds {
                    batch.removeAll(keepingCapacity: true)
                    for i in 0..<depth {
                        let key = keyBytes[(round * depth + i) % keys]
                        batch.append(op == "GET" ? .get(key: key) : .put(key: key, value: value, condition: .always))
                    }
                    let t0 = now()
                    let replies = try client.pipeline(batch)
                    _ = histogram.record(UInt64(max(0, now() - t0)))
                    guard replies.allSatisfy({ $0.status == .ok }) else { throw ValidationError("a request failed") }
                }
                let elapsed = Double(now() - start) / 1e9
                let rate = Double(rounds * depth) / elapsed
                func us(_ p: Double) -> String { String(format: "%.1f", Double(histogram.valueAtPercentile(p)) / 1000) }
                print("\(op.padding(4)) \(String(depth).padding(6)) \(String(Int(rate)).padding(10)) \(us(50).padding(7)) \(us(99).padding(7)) \(us(99.9))")
            }
        }
    }
}

/// Monotonic nanoseconds.
func now() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    init(format: String, _ value: Double) {
        // One decimal place, enough for microseconds.
        let scaled = (value * 10).rounded()
        self = "\(Int(scaled) / 10).\(abs(Int(scaled)) % 10)"
    }
}
