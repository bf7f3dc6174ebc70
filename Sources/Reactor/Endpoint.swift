/// Where a listener listens or a client connects.
public enum Endpoint: Sendable, Equatable, CustomStringConvertible {
    /// A Unix stream socket at `path`.
    case unix(path: String)
    /// TCP on `host` (name or address) and `port` (0: any free port).
    case tcp(host: String, port: Int)

    /// Parses `HOST:PORT` or `[V6]:PORT`; `nil` if it is not of that form.
    public static func parseHostPort(_ text: String) -> Endpoint? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return .tcp(host: host, port: port)
    }

    /// `unix:PATH`, or `HOST:PORT` with an IPv6 host in brackets: the form `parse` reads back.
    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}
