import LMDB
import Locks
import Logging
import NotifyRing
import Posix
import Reactor
import StoreLayout
#if canImport(Glibc)
import Glibc
#endif

/// The daemon: data directory and pid lock, the LMDB store, the writer thread, N reactor threads and
/// the listeners. `start()` returns once it serves; `stop()` stops gracefully: no more connections,
/// every queued write committed and answered, environment closed.
public final class Server: @unchecked Sendable {
    // Invariant: the mutable fields are written by `start()` and `stop()`, which the owner calls from
    // one thread, in that order; the threads started read only what was set before they started.
    /// The configuration the server was created with; `start()` does not change it.
    public let configuration: ServerConfiguration
    private let logger: Logger
    private var pidFile: PidFile?
    private var store: Store?
    private(set) var context: ServerContext?
    private var reactors: [ReactorThread] = []
    private var threads: [OSThread] = []
    private var writerThread: OSThread?
    private var listeners: [Listener] = []
    private let stopped = Locked(false)

    /// The endpoints actually listened on (a TCP port of 0 replaced by the real one).
    public private(set) var endpoints: [Endpoint] = []

    /// A stopped server; nothing is opened until `start()`.
    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Takes the data directory, opens the store and starts serving.
    public func start() throws {
        let config = configuration
        raiseDescriptorLimit(for: config.maxClients)
        let group = try Server.group(named: config.accessGroup)
        if let group { try Server.checkMembership(of: group, named: config.accessGroup) }
        // Password files are read before anything is created, so a missing one stops the start cleanly.
        let authenticator = try Authenticator(config.auth)
        try Server.prepareDataDirectory(config.dataDirectory, group: group, logger: logger)
        let pid: PidFile
        do { pid = try PidFile(path: config.dataDirectory + "/" + StoreLayout.pidFileName) } catch {
            switch error {
            case .held(let holder): throw ServerError.alreadyRunning(pid: holder)
            case .system(let error): throw ServerError.system(error)
            }
        }
        pidFile = pid
        do {
            let store = try Store(directory: config.dataDirectory, configuration: config, group: group, logger: logger)
            self.store = store
            let cleared = try store.environment.readerCheck()
            let stats = ServerStats()
            ServerStats.add(stats.staleReadersCleared, cleared)
            // A new ring (new epoch) on every start; its numbering continues from the last change committed.
            let ringPath = config.effectiveRingPath(environmentID: store.environmentID)
            let publisher = try RingPublisher(creatingAt: ringPath, capacity: config.ringCapacity,
                                              maxMessageBytes: config.maxMessageSize,
                                              firstSequence: try store.lastSequence() + 1,
                                              mode: group == nil ? 0o600 : 0o660, group: group)
            try store.recordRing(path: ringPath, epoch: publisher.epoch)
            stats.ringNextSequence.store(Int(publisher.nextSequence), ordering: .relaxed)
            // The publisher moves into the writer role: what the daemon shows of it is read first.
            let ring = RingInfo(path: ringPath, epoch: publisher.epoch, capacity: publisher.capacity)
            let mapGate = MapGate()
            let batcher = try WriteBatcher(store: store, publisher: publisher, configuration: config, stats: stats,
                                           logger: logger, mapGate: mapGate)
            let count = config.effectiveThreads
            let context = ServerContext(configuration: config, store: store, stats: stats, batcher: batcher,
                                        logger: logger, reactorCount: count,
                                        ring: ring,
                                        authenticator: authenticator, mapGate: mapGate)
            self.context = context
            // Function libraries kept in the store are loaded before any client can call them.
            context.scripts.restoreLibraries(from: store, logger: logger)
            // SHUTDOWN: shmkvd's main thread stops the server as for SIGTERM; an embedding program
            // without the termination handlers gets it stopped on a thread of its own.
            context.setShutdown { [weak self] in
                if Server.requestTermination() { return }
                guard let server = self else { return }
                _ = try? OSThread(name: "shmkv-shutdown") { server.stop() }
            }
            reactors = try (0..<count).map { try ReactorThread(index: $0, context: context) }
            batcher.setReactors(reactors)
            try openListeners(group: group)
            // The cluster map names this node's address: with `listen` on port 0, the port it got.
            let bound = endpoints.compactMap { endpoint -> String? in
                if case .tcp(let host, let port) = endpoint { "\(host):\(port)" } else { nil }
            }.first
            context.setCluster(try config.clusterMap(listen: bound ?? config.listen))
            if let port = endpoints.lazy.compactMap({ endpoint -> Int? in if case .tcp(_, let port) = endpoint { port } else { nil } }).first {
                batcher.replication.listeningPort.store(port, ordering: .relaxed)
            }
            if !config.replicationPrimary.isEmpty {
                guard let primary = Endpoint.parseHostPort(config.replicationPrimary) else {
                    throw ConfigurationError("replication.primary must be HOST:PORT (got \(config.replicationPrimary))")
                }
                let password = config.replicationPrimaryAuthFile.isEmpty ? nil
                    : try Authenticator.readPassword(config.replicationPrimaryAuthFile, for: "replication.primaryAuthFile")
                batcher.replication.isReplica.store(true, ordering: .relaxed)
                context.post(.follow(primary, password: password, user: config.replicationPrimaryUser))
            }
            if let seed = Endpoint.parseHostPort(config.replicationCluster) {
                let password = config.replicationPrimaryAuthFile.isEmpty ? nil
                    : try Authenticator.readPassword(config.replicationPrimaryAuthFile, for: "replication.primaryAuthFile")
                batcher.replication.isReplica.store(true, ordering: .relaxed)
                context.post(.followCluster(seed, password: password, user: config.replicationPrimaryUser))
            }
            writerThread = try OSThread(name: "shmkv-writer") { batcher.run() }
            for reactor in reactors {
                threads.append(try OSThread(name: "shmkv-io-\(reactor.index)") { reactor.run() })
            }
            logger.info("shmkvd serving", metadata: [
                "dataDir": "\(config.dataDirectory)", "environment": "\(store.environmentID)",
                "listeners": "\(endpoints.map(\.description).joined(separator: " "))",
                "threads": "\(count)", "durability": "\(config.durability.rawValue)",
                "ring": "\(ringPath)", "epoch": "\(MetaValue.hex16(ring.epoch))",
            ])
        } catch {
            teardown()
            throw error
        }
    }

    private func openListeners(group: gid_t?) throws {
        let reactors = self.reactors
        let onAccept: @Sendable (consuming Descriptor, EventLoop) -> Void = { descriptor, loop in
            guard let here = reactors.first(where: { $0.loop === loop }) else { return }  // dropped: closed
            ReactorThread.place(descriptor, acceptedBy: here, among: reactors)
        }
        if let path = configuration.socketPath {
            let socket = try Socket.listenUnix(path: path, mode: group == nil ? 0o600 : 0o660)
            if let group, chown(path, uid_t.max, group) != 0 { throw ServerError.system(.last("chown \(path)")) }
            listeners.append(Listener(descriptor: socket, endpoint: .unix(path: path), onAccept: onAccept))
        }
        if let listen = configuration.listen, case .tcp(let host, let port)? = Endpoint.parseHostPort(listen) {
            let socket = try Socket.listenTCP(host: host, port: port)
            let bound = Socket.localPort(socket.rawValue)
            listeners.append(Listener(descriptor: socket, endpoint: .tcp(host: host, port: bound), onAccept: onAccept))
        }
        endpoints = listeners.map(\.endpoint)
        for listener in listeners {
            for reactor in reactors {
                try reactor.loop.register(listener, events: Readiness.readable, exclusive: true)
            }
        }
    }

    /// Stops gracefully; safe to call more than once. Blocks until every thread has ended.
    public func stop(graceSeconds: Int = 10) {
        let first = stopped.withLock { s in defer { s = true }; return !s }
        guard first else { return }
        logger.info("stopping: no new connections; committing queued writes")
        // A script past busy-reply-threshold would hold the writer for ever: it is stopped, undone.
        context?.scripts.shared.stopForShutdown(now: false)
        // Every loop stops watching the listeners (on its own thread), then they are closed.
        for listener in listeners { listener.stopAccepting() }
        for reactor in reactors { reactor.stopAccepting(listeners) }
        for listener in listeners { listener.close() }
        context?.batcher.close()
        writerThread?.join()
        for reactor in reactors { reactor.beginDraining(graceSeconds: graceSeconds) }
        for thread in threads { thread.join() }
        // The ring lives outside the data directory (on tmpfs): a clean stop leaves nothing there.
        // Readers that still map it keep their mapping; the next daemon creates a new one.
        if let publisher = context?.batcher.publisher, !publisher.removeFile() {
            logger.warning("left the ring \(publisher.path) in place: it is no longer this daemon's file")
        }
        teardown()
        logger.info("stopped")
    }

    private func teardown() {
        for listener in listeners { listener.close() }
        listeners.removeAll()
        reactors.removeAll()
        threads.removeAll()
        context = nil
        store?.close()
        store = nil
        pidFile?.release()
        pidFile = nil
    }

    /// Raises the soft descriptor limit toward what `maxClients` needs (the hard limit caps it); warns
    /// when clients would run out of descriptors before reaching `maxClients`.
    private func raiseDescriptorLimit(for maxClients: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let wanted = rlim_t(maxClients + 64)
        if limit.rlim_cur < wanted {
            limit.rlim_cur = min(wanted, limit.rlim_max)
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        if limit.rlim_cur < wanted {
            logger.warning("descriptor limit \(limit.rlim_cur) is below limits.maxClients + 64 (\(wanted)); connections beyond it are closed at once")
        }
    }

    /// The group id of `access.group`, or nil when it is empty.
    static func group(named name: String) throws(ServerError) -> gid_t? {
        guard !name.isEmpty else { return nil }
        if let entry = getgrnam(name) { return entry.pointee.gr_gid }
        if let id = gid_t(name), getgrgid(id) != nil { return id }
        throw .configuration("access.group: there is no group \(name)")
    }

    /// Refuses to start unless this process may give files to `group` (its group or one of its
    /// supplementary groups, or root): otherwise the first chown would fail with a bare EPERM. The error
    /// says how to fix it, for a shell user and for the systemd unit.
    static func checkMembership(of group: gid_t, named name: String) throws(ServerError) {
        guard geteuid() != 0, getegid() != group else { return }
        let count = getgroups(0, nil)
        var groups = [gid_t](repeating: 0, count: Int(max(count, 0)))
        let got = getgroups(count, &groups)
        if got >= 0 && groups.prefix(Int(got)).contains(group) { return }
        let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? String(geteuid())
        throw .configuration("""
            access.group: this process (user \(user)) is not a member of group \(name), so it cannot give the data \
            directory, socket and ring to it: add the user to the group (usermod -aG \(name) \(user), then start \
            it from a new login) or, under systemd, add SupplementaryGroups=\(name) to the unit's [Service] section
            """)
    }

    /// Creates the data directory if missing; refuses one this user does not own; sets its mode to 0700
    /// (0750 of `group` when the store is shared with a group).
    static func prepareDataDirectory(_ path: String, group: gid_t? = nil, logger: Logger? = nil) throws(ServerError) {
        let mode: mode_t = group == nil ? 0o700 : 0o750
        var st = stat()
        if stat(path, &st) != 0 {
            guard errno == ENOENT else { throw .system(.last("stat \(path)")) }
            guard mkdir(path, 0o700) == 0 else { throw .system(.last("mkdir \(path)")) }
            guard stat(path, &st) == 0 else { throw .system(.last("stat \(path)")) }
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .dataDirectory("\(path) is not a directory") }
        guard st.st_uid == geteuid() else {
            throw .dataDirectory("data directory \(path) is owned by uid \(st.st_uid), not by this user (uid \(geteuid()))")
        }
        if let group, st.st_gid != group, chown(path, uid_t.max, group) != 0 { throw .system(.last("chown \(path)")) }
        if st.st_mode & 0o7777 != mode {
            guard chmod(path, mode) == 0 else { throw .system(.last("chmod \(path)")) }
            if st.st_mode & 0o7777 & ~mode != 0 {
                logger?.notice("data directory \(path) was mode \(String(st.st_mode & 0o7777, radix: 8)); now \(String(mode, radix: 8))")
            }
        }
    }

    // MARK: Signals

    /// Routes SIGINT and SIGTERM to `waitForTerminationSignal()` (through a handler that only writes to
    /// a pipe, which is async-signal-safe, so any thread may take the signal) and ignores SIGPIPE.
    /// Call before `start()`.
    public static func installTerminationHandlers() {
        signal(SIGPIPE, SIG_IGN)
        guard terminationPipe.0 < 0 else { return }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        terminationPipe = (fds[0], fds[1])
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { sig in
            var byte = UInt8(truncatingIfNeeded: sig)
            _ = write(terminationPipe.1, &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
    }

    /// Asks the process to stop as SIGTERM would (SHUTDOWN); false when the termination handlers are
    /// not installed (nobody waits in `waitForTerminationSignal`).
    static func requestTermination() -> Bool {
        guard terminationPipe.1 >= 0 else { return false }
        var byte = UInt8(SIGTERM)
        return write(terminationPipe.1, &byte, 1) == 1
    }

    /// Waits for SIGINT or SIGTERM and returns its number.
    public static func waitForTerminationSignal() -> Int32 {
        var byte: UInt8 = 0
        while true {
            let n = read(terminationPipe.0, &byte, 1)
            if n == 1 { return Int32(byte) }
            if n < 0 && errno == EINTR { continue }
            return SIGTERM
        }
    }
}

/// Read and write ends of the pipe the signal handler writes to. Set once, before any signal can
/// arrive, then only read (the handler must not touch anything that is not async-signal-safe).
nonisolated(unsafe) private var terminationPipe: (Int32, Int32) = (-1, -1)
