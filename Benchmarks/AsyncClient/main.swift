// shmkv-async-bench: the async client's pool against the synchronous client, on the same daemon.
//
//   shmkv-async-bench --socket ./data/shmkvd.sock [--tasks 1000] [--connections 4] [--threads 4]
//                     [--requests 200000] [--value-size 32]
//
// For GET and PUT: `--tasks` concurrent tasks share one AsyncClient of `--connections` connections, then
// `--threads` threads each use a Client of their own; the same number of requests each way. Prints
// requests per second, latency percentiles (HdrHistogram) and the ratio. Numbers, never pass or fail.
import ArgumentParser
import Dispatch
import Foundation
import Histogram
import Locks
import ShmKV

#if canImport(Glibc)
import Glibc
#endif

@main
struct AsyncBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "shmkv-async-bench",
        abstract: "Compare AsyncClient (tasks on a pool) with Client (one per thread).")

    @Option(help: "Unix socket of the daemon.") var socket: String
    @Option(help: "Concurrent tasks on the async pool.") var tasks: Int = 1000
    @Option(help: "Connections in the async pool.") var connections: Int = 4
    @Option(help: "Threads, each with its own synchronous Client.") var threads: Int = 4
    @Option(help: "Requests per measurement.") var requests: Int = 200_000
    @Option(help: "Value size in bytes.") var valueSize: Int = 32
    @Option(help: "Distinct keys.") var keys: Int = 10_000

    func run() async throws {
        let value = [UInt8](repeating: 0x76, count: valueSize)
        let keyBytes = (0..<keys).map { Array("bench:key:\($0)".utf8) }
        let loader = try Client(socketPath: socket)
        for start in stride(from: 0, to: keys, by: 1000) {
            try loader.mput((start..<min(start + 1000, keys)).map { KeyValue(key: keyBytes[$0], value: value) })
        }
        loader.close()
        print("requests=\(requests) value=\(valueSize)B keys=\(keys) cores=\(sysconf(Int32(_SC_NPROCESSORS_ONLN)))")
        print("op   client                         req/s     p50_us   p99_us   p99.9_us")
        for op in ["GET", "PUT"] {
            let pool = AsyncClient(address: .unix(path: socket), connections: connections)
            let perTask = requests / tasks
            let asyncStart = now()
            let asyncLatency = try await withThrowingTaskGroup(of: Histogram<UInt64>.self) { group in
                for t in 0..<tasks {
                    group.addTask {
                        var h = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
                        for i in 0..<perTask {
                            let key = keyBytes[(t * perTask + i) % keyBytes.count]
                            let t0 = now()
                            if op == "GET" { _ = try await pool.get(key) } else { try await pool.put(key, value) }
                            _ = h.record(UInt64(max(0, now() - t0)))
                        }
                        return h
                    }
                }
                var total = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
                for try await h in group { total.add(h) }
                return total
            }
            let asyncRate = Double(perTask * tasks) / (Double(now() - asyncStart) / 1e9)
            pool.close()
            report(op, "async: \(tasks) tasks, \(connections) conns", asyncRate, asyncLatency)

            let perThread = requests / threads
            let merged = Locked(Histogram<UInt64>(highestTrackableValue: 60_000_000_000))
            let syncStart = now()
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                guard let client = try? Client(socketPath: socket) else { return }
                var h = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
                for i in 0..<perThread {
                    let key = keyBytes[(t * perThread + i) % keyBytes.count]
                    let t0 = now()
                    if op == "GET" { _ = try? client.get(key) } else { _ = try? client.put(key, value) }
                    _ = h.record(UInt64(max(0, now() - t0)))
                }
                client.close()
                let local = h
                merged.withLock { $0.add(local) }
            }
            let syncRate = Double(perThread * threads) / (Double(now() - syncStart) / 1e9)
            report(op, "sync: \(threads) threads, \(threads) conns", syncRate, merged.withLock { $0 })
            print(String(format: "%@  async/sync ratio %.2f", op, asyncRate / syncRate))
        }
    }

    func report(_ op: String, _ name: String, _ rate: Double, _ h: Histogram<UInt64>) {
        func us(_ p: Double) -> String { String(format: "%.1f", Double(h.valueAtPercentile(p)) / 1000) }
        print("\(op.padding(4)) \(name.padding(30)) \(String(Int(rate)).padding(9)) \(us(50).padding(8)) \(us(99).padding(8)) \(us(99.9))")
    }
}

func now() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
