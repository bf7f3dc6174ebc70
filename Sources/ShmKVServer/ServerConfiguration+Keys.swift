import Configuration
import Foundation
import Logging
import NotifyRing
import Reactor
import Yams
import Glibc

extension ServerConfiguration {
    /// Every key the daemon reads, as dotted paths (the layout of `Config/shmkvd.yaml`).
    public static let knownKeys: Set<String> = [
        "dataDir", "socket", "listen", "threads", "logLevel", "databases",
        "storage.mapSize", "storage.maxMapSize", "storage.maxReaders", "storage.durability", "storage.readerCheckInterval", "storage.syncInterval",
        "limits.maxValueSize", "limits.maxFrameSize", "limits.maxClients", "limits.maxOutputBuffer",
        "limits.maxQueryBuffer", "limits.idleTimeout", "limits.pubsubHardLimit", "limits.pubsubSoftLimit",
        "limits.pubsubSoftSeconds", "limits.maxScanLimit", "limits.maxRequestsPerEvent",
        "batch.maxOperations", "batch.maxBytes",
        "ring.path", "ring.capacity", "ring.maxMessageSize",
        "resp.maxBulkLength", "resp.maxMultibulkCount", "resp.maxInlineLength", "resp.allowFlush", "resp.allowShutdown", "resp.notifyKeyspaceEvents",
        "auth.passwordFile", "auth.allowUnauthenticatedRemote", "auth.timeout", "auth.users",
        "access.group", "cluster.enabled", "cluster.myId", "cluster.nodes",
        "replication.primary", "replication.cluster", "replication.primaryAuthFile", "replication.primaryUser", "replication.readOnly",
        "replication.serveStaleData",
    ]

    /// Refuses a configuration file with keys the daemon does not know (a misspelt key would otherwise
    /// be ignored and its default used without a word).
    static func checkKeys(ofYAMLFile path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let root = try Yams.compose(yaml: text) else { return }
        var unknown: [String] = []
        func walk(_ node: Node, _ prefix: String) {
            // auth.users is a mapping of user names, checked by AuthConfiguration.users(inYAMLFile:).
            guard let mapping = node.mapping, prefix != "auth.users" else {
                if !knownKeys.contains(prefix) { unknown.append(prefix) }
                return
            }
            for (key, value) in mapping {
                let name = key.string ?? "\(key)"
                walk(value, prefix.isEmpty ? name : prefix + "." + name)
            }
        }
        walk(root, "")
        if !unknown.isEmpty {
            throw ConfigurationError("\(path): unknown key\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", ")) (known: see Config/shmkvd.yaml)")
        }
    }
}

/// Reads optional keys, telling "absent" (nil: the default applies) from "present but not of the
/// expected type" (an error naming the key) — the reader's non-throwing accessors would silently fall
/// back to the default for a value such as `threads: lots`.
struct ConfigValues {
    let reader: ConfigReader

    func int(_ key: String) throws(ConfigurationError) -> Int? {
        try optional(key) { try reader.requiredInt(forKey: ConfigKey(key)) }
    }

    func string(_ key: String) throws(ConfigurationError) -> String? {
        try optional(key) { try reader.requiredString(forKey: ConfigKey(key)) }
    }

    /// yes/no (YAML's booleans, or the words yes, no, true, false from the environment).
    func flag(_ key: String) throws(ConfigurationError) -> Bool? {
        if let value = try? optional(key, { try reader.requiredBool(forKey: ConfigKey(key)) }) { return value }
        guard let text = try string(key) else { return nil }
        switch text.lowercased() {
        case "yes", "true", "on", "1": return true
        case "no", "false", "off", "0": return false
        default: throw ConfigurationError("\(key) must be yes or no (got \(text))")
        }
    }

    private func optional<T>(_ key: String, _ read: () throws -> T) throws(ConfigurationError) -> T? {
        do {
            return try read()
        } catch {
            // swift-configuration's error type is not public; its missing-value case is told by its text.
            if "\(error)".hasPrefix("Missing required config value") { return nil }
            throw ConfigurationError("\(key): \(error)")
        }
    }
}

/// A configuration value the daemon cannot run with.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, naming the key (`limits.maxClients: …`).
    public let description: String
    /// An error with `description` as its text.
    public init(_ description: String) { self.description = description }
}

extension ServerConfiguration {
    /// Loads the configuration the way `shmkvd` does: embedded defaults < the YAML file (if any) <
    /// `SHMKV_*` environment variables < `overrides` (the command-line flags).
    ///
    /// Environment names follow swift-configuration's rule with the `shmkv` prefix:
    /// `storage.mapSize` is `SHMKV_STORAGE_MAP_SIZE`, `dataDir` is `SHMKV_DATA_DIR`.
    public static func load(
        file: String?, overrides: [String: ConfigValue], environment: [String: String]? = nil
    ) async throws -> ServerConfiguration {
        let env = environment.map { EnvironmentVariablesProvider(environmentVariables: $0) } ?? EnvironmentVariablesProvider()
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: Dictionary(uniqueKeysWithValues: overrides.map { (AbsoluteConfigKey(ConfigKey($0.key)), $0.value) })),
            env.prefixKeys(with: "shmkv"),
        ]
        if let file {
            let locator = ConfigReader(provider: InMemoryProvider(values: ["filePath": .init(.string(file), isSecret: false)]))
            providers.append(try await FileProvider<YAMLSnapshot>(config: locator))
            try checkKeys(ofYAMLFile: file)
        }
        return try ServerConfiguration(reader: ConfigReader(providers: providers),
                                       environment: environment ?? ProcessInfo.processInfo.environment, file: file)
    }
}
