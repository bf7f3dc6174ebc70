import RDB
import Posix
import Reactor
import Wire

/// One question to a cluster node, on a reactor without blocking it: connects, authenticates if it
/// must, sends CLUSTER SLOTS, reads the reply (bounded, as any peer's bytes), and closes; `done` is
/// called once, with the shards or why there are none.
final class ClusterProbe: Connection {
    let node: Endpoint
    private var done: ((Result<[ClusterShard], ReplicationError>) -> Void)?
    /// Replies still to be read before CLUSTER SLOTS's (AUTH's).
    private var repliesBefore: Int
    /// When it started (monotonic seconds), for the caller's timeout.
    let started = MonotonicClock.seconds()

    init(node: Endpoint, password: String?, user: String, loop: EventLoop,
         done: @escaping (Result<[ClusterShard], ReplicationError>) -> Void) throws(SystemError) {
        self.node = node
        self.done = done
        let descriptor = try Socket.connect(to: node)
        repliesBefore = password == nil ? 0 : 1
        super.init(descriptor: descriptor, loop: loop)
        maxInput = 16 << 20
        if let password { RESPWriter.command(["AUTH"] + (user.isEmpty ? [] : [user]) + [password], into: &output) }
        RESPWriter.command(["CLUSTER", "SLOTS"], into: &output)
        try start()
        flush()
    }

    override func process() {
        while done != nil {
            let decoded: (RESPReply, Int)?
            do { decoded = try RESPReplyDecoder.decode(input.readable) } catch {
                return finish(.failure(ReplicationError("\(node) answered with bytes that are not RESP: \(error)")))
            }
            guard let (reply, used) = decoded else {
                if input.readableCount >= maxInput { finish(.failure(ReplicationError("\(node)'s CLUSTER SLOTS reply exceeds 16 MiB"))) }
                return
            }
            consumeInput(used)
            if case .error(let message) = reply { return finish(.failure(ReplicationError("\(node): \(message.prefix(200))"))) }
            if repliesBefore > 0 {
                repliesBefore -= 1
                continue
            }
            guard case .tcp(let host, _) = node else { return finish(.failure(ReplicationError("a cluster node is reached over TCP"))) }
            do { finish(.success(try ClusterTopology.shards(reply, probedHost: host))) } catch { finish(.failure(error)) }
        }
    }

    /// Gives up (the caller's timeout, or the follower stopping): `done` is not called.
    func cancel() {
        done = nil
        close()
    }

    override func didClose() {
        finish(.failure(ReplicationError("\(node) closed the connection (or could not be reached)")))
    }

    private func finish(_ result: Result<[ClusterShard], ReplicationError>) {
        guard let done else { return }
        self.done = nil
        close()
        done(result)
    }
}
