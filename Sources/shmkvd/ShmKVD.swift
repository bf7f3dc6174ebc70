import ArgumentParser
import Configuration
import Logging
import ShmKVServer
#if canImport(Glibc)
import Glibc
#endif

/// Installs the SIGINT/SIGTERM handlers before anything else runs, then parses the command line.
@main
enum Entry {
    static func main() async {
        Server.installTerminationHandlers()
        await ShmKVD.main()
    }
}

/// `shmkvd`: parse flags, load the configuration, run the server until SIGINT/SIGTERM.
struct ShmKVD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shmkvd",
        abstract: "The ShmKV daemon: a shared-memory key-value store served over Unix and TCP sockets.",
        discussion: """
            Configuration: embedded defaults < --config FILE (or SHMKV_CONFIG) < SHMKV_* environment \
            variables < flags. Config/shmkvd.yaml documents every key. SIGINT or SIGTERM stops the \
            daemon after committing and answering every queued write.
            """)

    @Option(name: .long, help: "YAML configuration file (default: none, embedded defaults; env SHMKV_CONFIG).")
    var config: String?

    @Option(name: .long, help: "Data directory (default: ./data).")
    var dataDir: String?

    @Option(name: .long, help: "Unix socket path, or 'none' (default: <data-dir>/shmkvd.sock).")
    var socket: String?

    @Option(name: .long, help: "TCP address HOST:PORT, or 'none' (default: 127.0.0.1:7379).")
    var listen: String?

    @Flag(name: .long, help: "Do not listen on TCP (same as --listen none).")
    var noTcp = false

    @Option(name: .long, help: "Reactor threads; 0 = one per core (default: 0).")
    var threads: Int?

    @Option(name: .long, help: "durable, fast or volatile (default: durable).")
    var durability: String?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical (default: info).")
    var logLevel: String?

    @Flag(name: .long, help: "Print the resulting configuration as YAML and exit.")
    var printConfig = false

    func run() async throws {
        var overrides: [String: ConfigValue] = [:]
        func set(_ key: String, _ value: String?) {
            if let value { overrides[key] = ConfigValue(.string(value), isSecret: false) }
        }
        set("dataDir", dataDir)
        set("socket", socket)
        set("listen", noTcp ? "none" : listen)
        set("storage.durability", durability)
        set("logLevel", logLevel)
        if let threads { overrides["threads"] = ConfigValue(.int(threads), isSecret: false) }
        let file = config ?? getenv("SHMKV_CONFIG").map { String(cString: $0) }

        let configuration: ServerConfiguration
        do {
            configuration = try await ServerConfiguration.load(file: file, overrides: overrides)
        } catch {
            fail("configuration: \(error)")
        }
        if printConfig {
            print(configuration.renderYAML(), terminator: "")
            return
        }

        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "shmkvd")
        for (name, nearest) in ServerConfiguration.unknownEnvironmentVariables() {
            logger.warning("\(name) is not a setting of shmkvd and is ignored\(nearest.map { "; did you mean \($0)?" } ?? "") (see Config/shmkvd.yaml)")
        }
        let server = Server(configuration: configuration, logger: logger)
        do {
            try server.start()
        } catch {
            fail("\(error)")
        }
        // One machine-readable line on stdout, for scripts and tests: where it listens.
        let places = server.endpoints.map { endpoint -> String in
            switch endpoint {
            case .unix(let path): "unix=\(path)"
            case .tcp: "tcp=\(endpoint)"
            }
        }
        writeAll(1, "shmkvd ready pid=\(getpid()) \(places.joined(separator: " "))\n")
        if let error = ServiceManager.notifyReady(endpoints: server.endpoints) {
            logger.warning("could not tell the service manager that shmkvd is ready: \(error)")
        }
        let signal = Server.waitForTerminationSignal()
        logger.info("received signal \(signal)")
        if let error = ServiceManager.notifyStopping() {
            logger.warning("could not tell the service manager that shmkvd is stopping: \(error)")
        }
        server.stop()
    }

    private func fail(_ message: String) -> Never {
        writeAll(2, "shmkvd: error: \(message)\n")
        Glibc.exit(1)
    }
}

/// Writes a whole line to a descriptor, unbuffered (stdout may be a pipe that a test reads).
private func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        bytes = bytes.dropFirst(n)
    }
}
