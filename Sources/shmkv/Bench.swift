import ArgumentParser
import Foundation
import ShmKV
import ShmKVBench
import Wire

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure request rates and latencies: native protocol or RESP, Unix socket or TCP, or LocalStore reads.",
        discussion: """
            All connections are driven from one event loop, as redis-benchmark does: each sends \
            --pipeline requests and, once their replies are in, the next ones. Keys are key:000000000000 \
            … (redis-benchmark -r's names), chosen at random among --keys; they are stored once first \
            unless --no-preload. A reply's latency counts from the moment its group was sent. --local \
            reads through LocalStore in this process (one thread per client), no socket at all, after \
            storing the keys through the daemon that serves that store (refused when every read misses). The \
            daemon may be any RESP server with --protocol resp (redis-server too). Prints numbers; \
            exit 2 if the run could not go on.
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var localOptions: LocalOptions
    @Option(name: .customLong("protocol"), help: "native or resp.") var protocolName: BenchOptions.WireProtocol = .native
    @Option(name: .shortAndLong, help: "Connections (or, with --local, threads).") var clients = 50
    @Option(name: [.customShort("P"), .long], help: "Requests in flight per connection.") var pipeline = 1
    @Option(name: .shortAndLong, help: "Requests in all.") var requests = 100_000
    @Option(name: .long, help: "Seconds to run, instead of --requests.") var duration: Double?
    @Option(name: .long, help: "Distinct keys.") var keys = 100_000
    @Option(name: [.customShort("d"), .long], help: "Value size in bytes.") var valueSize = 100
    @Option(name: .long, help: "GET:SET weights, e.g. 1:0 (GETs only), 0:1, 9:1.") var ratio = "1:1"
    @Option(name: .long, help: "SETs carry this time to live in seconds.") var ttl: Int?
    @Flag(name: .long, inversion: .prefixedNo, help: "Store every key once before measuring.") var preload = true
    @Option(name: .long, help: "Seeds the random keys and operations.") var seed: UInt64 = 0x5EED

    func validate() throws {
        if !(1...10_000).contains(clients) { throw ValidationError("--clients must be 1 to 10000") }
        if !(1...100_000).contains(pipeline) { throw ValidationError("--pipeline must be 1 to 100000") }
        if requests < 1 { throw ValidationError("--requests must be positive") }
        if let duration, !(duration > 0 && duration <= 86_400) { throw ValidationError("--duration must be 0 to 86400 seconds") }
        if !(1...1_000_000_000_000).contains(keys) { throw ValidationError("--keys must be 1 to 10^12") }
        if !(0...(64 << 20)).contains(valueSize) { throw ValidationError("--value-size must be 0 to 64 MiB") }
        if BenchOptions.parseRatio(ratio) == nil { throw ValidationError("--ratio must be GET:SET weights such as 1:1 or 1:0") }
        if let ttl, ttl < 1 { throw ValidationError("--ttl must be positive") }
    }

    func run() async throws {
        var options = BenchOptions(address: connection.address)
        options.wireProtocol = protocolName
        options.clients = clients
        options.pipeline = pipeline
        options.requests = requests
        options.duration = duration
        options.keys = keys
        options.valueSize = valueSize
        (options.getWeight, options.setWeight) = BenchOptions.parseRatio(ratio)!
        options.ttlSeconds = ttl
        options.seed = seed
        var line = ProgressLine(forced: false)
        let report: (BenchProgress) -> Void = { p in
            line.update("\(p.completed) requests in \(String(format: "%.0f", p.seconds)) s, now \(Int(p.currentRate)) req/s")
        }
        do {
            options.credentials = try connection.credentials()
            var result: BenchResult
            if localOptions.isLocal {
                let (store, checked) = try localOptions.openChecked(for: connection, purpose: "benchmarking reads of")
                if preload { try preloadThroughDaemon(store, checked, options) }
                result = try LocalReads.run(store: store, options: options, progress: report)
                if result.completed > 0 && result.misses == result.completed {
                    throw BenchError(message: "every read missed: \(store.directory) holds none of the run's keys (key:000000000000 …); run without --no-preload, or preload them")
                }
            } else {
                if preload { try Preload.run(options, timeoutSeconds: connection.timeout) }
                result = try LoadGenerator(options: options).run(progress: report)
                result.label = "\(protocolName.rawValue) \(options.address)"
            }
            line.finish("\(result.completed) requests")
            print(result, json: connection.json)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Display.error("\(error)")
            throw ExitCode(ExitStatus.serverOrConnection)
        }
    }

    /// Stores the run's keys through the daemon that serves `store` (the one named, or the default one),
    /// refusing when that daemon serves another store. `checked` is the daemon already found to serve it
    /// while opening the store, if one was asked then.
    private func preloadThroughDaemon(_ store: LocalStore, _ checked: DaemonStore?, _ options: BenchOptions) throws {
        if checked == nil {
            do {
                try DaemonStore.ask(options.address, timeoutSeconds: connection.timeout, credentials: options.credentials).check(store)
            } catch {
                throw BenchError(message: "cannot preload \(store.directory) through the daemon at \(options.address): \(error) (name the daemon that serves it, or --no-preload)")
            }
        }
        try Preload.run(options, timeoutSeconds: connection.timeout)
    }

    private func print(_ result: BenchResult, json: Bool) {
        let o = result.options
        if json {
            var latency: [String: Any] = [:]
            for p in result.percentiles { latency[p.name] = p.microseconds }
            Display.printJSON([
                "target": result.label, "clients": o.clients, "pipeline": o.pipeline, "keys": o.keys, "value_size": o.valueSize,
                "ratio": "\(o.getWeight):\(o.setWeight)", "ttl": o.ttlSeconds as Any, "seed": o.seed,
                "requests": result.completed, "gets": result.gets, "sets": result.completed - result.gets, "misses": result.misses,
                "errors": result.errors, "seconds": result.seconds, "ops_per_sec": result.operationsPerSecond, "latency_us": latency,
            ])
            return
        }
        Swift.print("\(result.label): \(o.clients) clients, pipeline \(o.pipeline), \(o.keys) keys, \(o.valueSize)-byte values, GET:SET \(o.getWeight):\(o.setWeight)\(o.ttlSeconds.map { ", TTL \($0) s" } ?? ""), seed \(o.seed)")
        Swift.print("\(result.completed) requests (\(result.gets) GET, \(result.completed - result.gets) SET, \(result.misses) misses, \(result.errors) errors) in \(String(format: "%.2f", result.seconds)) s: \(Int(result.operationsPerSecond)) requests/s")
        Swift.print("latency (µs): " + result.percentiles.map { "\($0.name) \(String(format: "%.1f", $0.microseconds))" }.joined(separator: "  "))
        if let first = result.firstError { Swift.print("first error: \(first)") }
    }
}

extension BenchOptions.WireProtocol: ExpressibleByArgument {}

