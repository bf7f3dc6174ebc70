import Wire

extension StatEntry {
    /// The value as a person reads it: `durability` as the mode's name (`durable`, `fast`, `volatile`),
    /// sizes in bytes with a binary unit and the exact count (`64.0 GiB (68719476736 bytes)`), the uptime
    /// as hours, minutes and seconds; every other value as its number. `value` keeps the number.
    public var readableValue: String {
        switch name {
        case "durability":
            switch value {
            case 0: "durable"
            case 1: "fast"
            case 2: "volatile"
            default: "unknown (\(value))"
            }
        case "map_size", "map_used_bytes", "max_value_size", "ring_capacity":
            StatEntry.bytes(value)
        case "uptime_seconds":
            StatEntry.duration(value)
        default:
            String(value)
        }
    }

    static func bytes(_ n: Int64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        guard n >= 1024 else { return n == 1 ? "1 byte" : "\(n) bytes" }
        var unit = 0
        var scale: Int64 = 1024
        while unit + 1 < units.count && n / scale >= 1024 { scale *= 1024; unit += 1 }
        let tenths = (n * 10 + scale / 2) / scale  // rounded to one decimal; n < 2^63 / 10 for any store
        return "\(tenths / 10).\(tenths % 10) \(units[unit]) (\(n) bytes)"
    }

    static func duration(_ seconds: Int64) -> String {
        let (d, h, m, s) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60)
        if d > 0 { return "\(d)d \(h)h \(m)m \(s)s" }
        if h > 0 { return "\(h)h \(m)m \(s)s" }
        if m > 0 { return "\(m)m \(s)s" }
        return "\(s)s"
    }
}
