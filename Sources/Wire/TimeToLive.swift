/// How long a key has left: what `Client.ttl`, `AsyncClient.ttl` and `LocalStore.ttl` answer.
public enum TimeToLive: Sendable, Equatable, CustomStringConvertible {
    /// There is no such key (or its deadline has passed).
    case missing
    /// The key has no deadline: it lives until deleted.
    case persistent
    /// The key is due at `deadline` (wall-clock milliseconds since the Unix epoch), `remaining`
    /// milliseconds from the moment it was asked.
    case expires(deadline: Int64, remaining: Int64)

    /// `missing`, `persistent` or `expires in N ms (at D)`.
    public var description: String {
        switch self {
        case .missing: "missing"
        case .persistent: "persistent"
        case .expires(let deadline, let remaining): "expires in \(remaining) ms (at \(deadline))"
        }
    }
}
