import Histogram

/// What a run measured: counts, the rate, and latency percentiles (microseconds, from HdrHistogram).
public struct BenchResult: Sendable {
    public let options: BenchOptions
    public let completed: Int
    public let gets: Int
    public let misses: Int
    public let errors: Int
    public let seconds: Double
    public let histogram: Histogram<UInt64>
    public let firstError: String?
    /// What was measured, for the summary (`native unix`, `local`, …).
    public var label: String = ""

    public var operationsPerSecond: Double { seconds > 0 ? Double(completed) / seconds : 0 }

    /// The latency at `percentile` (0…100) in microseconds.
    public func microseconds(atPercentile percentile: Double) -> Double {
        Double(histogram.valueAtPercentile(percentile)) / 1000
    }

    public var maxMicroseconds: Double { Double(histogram.max) / 1000 }

    /// The percentiles the summary prints, with their names.
    public var percentiles: [(name: String, microseconds: Double)] {
        [("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)].map { ($0.0, microseconds(atPercentile: $0.1)) }
            + [("max", maxMicroseconds)]
    }
}
