import Wire

extension NativeSession {
    /// On a cluster node, the same slot check RESP makes: `MOVED` (the owner's address in the message)
    /// when the request's keys belong to another node, `CROSSSLOT` when they hash to different slots; nil
    /// when this node serves them, or when the daemon is not a cluster node. Requests without keys (PING,
    /// STATS, SCAN, WATCH, SUBSCRIBE, PUBLISH) are served by any node, as Redis serves SCAN and PUBLISH.
    func clusterRefusal(_ request: RequestView) -> (Status, String)? {
        guard let cluster = context.cluster else { return nil }
        var slot = -1
        var crossed = false
        func visit(_ key: UnsafeRawBufferPointer) {
            let s = ClusterMap.slot(key)
            if slot < 0 { slot = s } else if s != slot { crossed = true }
        }
        switch request {
        case .get(let key), .ttl(let key), .put(let key, _, _, _), .delete(let key), .incrBy(let key, _), .expire(let key, _, _):
            visit(key)
        case .mget(let keys): for key in keys { visit(key) }
        case .mput(let pairs): for pair in pairs { visit(pair.key) }
        case .transaction(let operations): for operation in operations { visit(operation.key) }
        default: return nil
        }
        if crossed { return (.crossSlot, ClusterMap.crossSlot) }
        return slot < 0 ? nil : cluster.redirection(forSlot: slot).map { (.moved, $0) }
    }
}
