import Wire

extension NativeSession {
    /// On a cluster node, the same slot check RESP makes: `MOVED` (the owner's address in the message)
    /// when the request's keys belong to another node, `CROSSSLOT` when they hash to different slots; nil
    /// when this node serves them, or when the daemon is not a cluster node. Requests without keys (PING,
    /// STATS, SCAN, WATCH, SUBSCRIBE, PUBLISH) are served by any node, as Redis serves SCAN and PUBLISH.
    func clusterRefusal(_ request: RequestView) -> (Status, String)? {
        if case .watch = request { return nil }
        guard let refusal = context.cluster?.refusal(request.allKeys) else { return nil }
        return (refusal == ClusterMap.crossSlot ? .crossSlot : .moved, refusal)
    }
}
