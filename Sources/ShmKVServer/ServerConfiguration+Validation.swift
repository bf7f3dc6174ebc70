import StoreLayout
import NotifyRing
import Reactor

extension ServerConfiguration {
    /// Checks ranges and combinations; the message names the key.
    public func validate() throws(ConfigurationError) {
        if dataDirectory.isEmpty { throw ConfigurationError("dataDir must not be empty") }
        if socketPath == nil && listen == nil { throw ConfigurationError("both listeners are off: set socket or listen") }
        if let listen, Endpoint.parseHostPort(listen) == nil {
            throw ConfigurationError("listen must be HOST:PORT or none (got \(listen))")
        }
        if threads < 0 || threads > 256 { throw ConfigurationError("threads must be 0 (one per core) to 256 (got \(threads))") }
        if mapSize < 1 << 20 { throw ConfigurationError("storage.mapSize must be at least 1 MiB (got \(mapSize))") }
        if maxMapSize < mapSize { throw ConfigurationError("storage.maxMapSize must be at least storage.mapSize (got \(maxMapSize))") }
        if maxReaders < 1 { throw ConfigurationError("storage.maxReaders must be at least 1") }
        if readerCheckInterval < 1 { throw ConfigurationError("storage.readerCheckInterval must be at least 1 second") }
        if syncInterval < 1 { throw ConfigurationError("storage.syncInterval must be at least 1 second") }
        if maxValueSize < 1 || maxValueSize > Int(UInt32.max) - 1024 {
            throw ConfigurationError("limits.maxValueSize must be 1 to 4 GiB (got \(maxValueSize))")
        }
        if maxFrameSize < 1024 || maxFrameSize > Int(UInt32.max) {
            throw ConfigurationError("limits.maxFrameSize must be 1 KiB to 4 GiB (got \(maxFrameSize))")
        }
        if maxClients < 1 { throw ConfigurationError("limits.maxClients must be at least 1") }
        if databases < 1 || databases > StoreLayout.maxDatabaseCount {
            throw ConfigurationError("databases must be between 1 and \(StoreLayout.maxDatabaseCount)")
        }
        if maxOutputBuffer < 1024 { throw ConfigurationError("limits.maxOutputBuffer must be at least 1 KiB") }
        if maxQueryBuffer < maxFrameSize || maxQueryBuffer < maxValueSize + (64 << 10) {
            throw ConfigurationError("limits.maxQueryBuffer must hold the largest request: at least limits.maxFrameSize and limits.maxValueSize + 64 KiB (got \(maxQueryBuffer))")
        }
        if idleTimeout < 0 { throw ConfigurationError("limits.idleTimeout must be 0 (never) or more seconds (got \(idleTimeout))") }
        if pubsubSoftLimit < 1024 || pubsubHardLimit < pubsubSoftLimit {
            throw ConfigurationError("limits.pubsubSoftLimit must be at least 1 KiB and limits.pubsubHardLimit at least the soft limit")
        }
        if pubsubSoftSeconds < 0 { throw ConfigurationError("limits.pubsubSoftSeconds must be 0 or more") }
        try checkProtectedMode()
        if !replicationCluster.isEmpty {
            if !replicationPrimary.isEmpty { throw ConfigurationError("replication.cluster and replication.primary exclude each other: follow a cluster or one primary") }
            if Endpoint.parseHostPort(replicationCluster) == nil { throw ConfigurationError("replication.cluster must be HOST:PORT (got \(replicationCluster))") }
            if clusterEnabled { throw ConfigurationError("replication.cluster replicates a cluster into one store: not with cluster.enabled") }
        }
        if maxScanLimit < 1 { throw ConfigurationError("limits.maxScanLimit must be at least 1") }
        if maxRequestsPerEvent < 1 { throw ConfigurationError("limits.maxRequestsPerEvent must be at least 1") }
        if batchMaxOperations < 1 { throw ConfigurationError("batch.maxOperations must be at least 1") }
        if batchMaxBytes < 1 { throw ConfigurationError("batch.maxBytes must be at least 1") }
        if respMaxBulkLength < 1 { throw ConfigurationError("resp.maxBulkLength must be at least 1") }
        if respMaxMultibulkCount < 1 { throw ConfigurationError("resp.maxMultibulkCount must be at least 1") }
        if respMaxInlineLength < 64 { throw ConfigurationError("resp.maxInlineLength must be at least 64") }
        if !["auto", "yes", "no"].contains(respAllowFlush) {
            throw ConfigurationError("resp.allowFlush must be auto, yes or no (got \(respAllowFlush))")
        }
        if !["auto", "yes", "no"].contains(respAllowShutdown) {
            throw ConfigurationError("resp.allowShutdown must be auto, yes or no (got \(respAllowShutdown))")
        }
        if !RingLayout.isValidCapacity(ringCapacity) {
            throw ConfigurationError("ring.capacity must be a power of two from 4096 to 1073741824 (got \(ringCapacity))")
        }
        _ = try clusterMap(listen: listen)
        if KeyspaceEventClasses(respNotifyKeyspaceEvents) == nil {
            throw ConfigurationError("resp.notifyKeyspaceEvents: \(KeyspaceEventClasses.invalidMessage) (got \(respNotifyKeyspaceEvents))")
        }
        if ringMaxMessageSize < 1 { throw ConfigurationError("ring.maxMessageSize must be at least 1 (got \(ringMaxMessageSize))") }
    }

    /// The cluster's slot map when `cluster.enabled`, else nil; `listen` is this node's TCP address.
    func clusterMap(listen: String?) throws(ConfigurationError) -> ClusterMap? {
        guard clusterEnabled else { return nil }
        return try ClusterMap(nodes: clusterNodes, myID: clusterMyID, listen: listen)
    }
}
