import Histogram
import Locks
import Posix
import Reactor
import ShmKV
#if canImport(Glibc)
import Glibc
#endif

/// `--local`: GETs through `LocalStore` in this process, one thread per client, with no socket at all;
/// each read's latency includes a clock read (about 20 ns here). The run's time is the monotonic clock
/// from the first thread's first read to the last thread's last one (each thread stamps both), so it
/// does not include starting threads or waiting for them.
public enum LocalReads {
    public static func run(store: LocalStore, options: BenchOptions, progress: ((BenchProgress) -> Void)? = nil) throws -> BenchResult {
        let threads = max(1, options.clients)
        let perThread = (options.requests + threads - 1) / threads
        let deadline = options.duration.map { MonotonicClock.nanoseconds() + Int($0 * 1e9) }
        let totals = Locked((histogram: Histogram<UInt64>(highestTrackableValue: 60_000_000_000), completed: 0, misses: 0, errors: 0,
                             firstError: String?.none, firstStart: Int.max, lastEnd: 0))
        let done = Locked(0)
        let finished = Locked(0)
        let started = MonotonicClock.nanoseconds()
        var workers: [OSThread] = []
        for index in 0..<threads {
            workers.append(try OSThread(name: "bench-local-\(index)") {
                var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
                var random = FastRandom(seed: options.seed &+ UInt64(index) &* 0x9E37_79B9)
                var encoder = RequestEncoder(valueSize: 0, ttlSeconds: nil)
                var completed = 0, misses = 0, errors = 0
                var firstError: String?
                let threadStart = MonotonicClock.nanoseconds()
                while deadline.map({ MonotonicClock.nanoseconds() < $0 }) ?? (completed < perThread) {
                    // Checked in steps of 256 reads, so the clock is read once per read, not twice.
                    for _ in 0..<256 {
                        encoder.setKey(random.below(options.keys))
                        let t0 = MonotonicClock.nanoseconds()
                        do {
                            let hit = try store.withValue(encoder.key) { $0 != nil }
                            if !hit { misses += 1 }
                        } catch {
                            errors += 1
                            if firstError == nil { firstError = "\(error)" }
                        }
                        _ = histogram.record(UInt64(max(0, MonotonicClock.nanoseconds() - t0)))
                        completed += 1
                        if deadline == nil && completed == perThread { break }
                    }
                    done.withLock { $0 += 256 }
                }
                let threadEnd = MonotonicClock.nanoseconds()
                totals.withLock { t in
                    t.firstStart = min(t.firstStart, threadStart)
                    t.lastEnd = max(t.lastEnd, threadEnd)
                    t.histogram.add(histogram)
                    t.completed += completed
                    t.misses += misses
                    t.errors += errors
                    if t.firstError == nil { t.firstError = firstError }
                }
                finished.withLock { $0 += 1 }
            })
        }
        var last = (completed: 0, at: started)
        while finished.withLock({ $0 }) < threads {
            usleep(100_000)
            let now = MonotonicClock.nanoseconds()
            if let progress, now - last.at >= 1_000_000_000 {
                let completed = done.withLock { $0 }
                progress(BenchProgress(completed: completed, seconds: Double(now - started) / 1e9,
                                       currentRate: Double(completed - last.completed) / (Double(now - last.at) / 1e9)))
                last = (completed, now)
            }
        }
        for worker in workers { worker.join() }
        let t = totals.withLock { $0 }
        let elapsed = Double(max(1, t.lastEnd - t.firstStart)) / 1e9
        var result = BenchResult(options: options, completed: t.completed, gets: t.completed, misses: t.misses, errors: t.errors,
                                 seconds: elapsed, histogram: t.histogram, firstError: t.firstError)
        result.label = "LocalStore \(store.directory)"
        return result
    }
}
