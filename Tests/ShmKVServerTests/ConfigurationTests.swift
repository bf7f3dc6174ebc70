import Configuration
import Foundation
import ShmKVServer
import TestSupport
import Testing

@Suite struct ConfigurationTests {
    @Test func embeddedDefaults() async throws {
        let config = try await ServerConfiguration.load(file: nil, overrides: [:], environment: [:])
        #expect(config == ServerConfiguration())
        #expect(config.socketPath == "./data/shmkvd.sock")
        #expect(config.listen == "127.0.0.1:7379")
        #expect(config.durability == .durable)
    }

    @Test func fileThenEnvironmentThenFlags() async throws {
        let dir = TemporaryDirectory("shmkv-config")
        defer { dir.remove() }
        let file = dir.file("c.yaml")
        try Data("""
            dataDir: /from/file
            listen: 127.0.0.1:1111
            threads: 3
            storage:
              durability: fast
              mapSize: 1073741824
            limits:
              maxValueSize: 2048
            """.utf8).write(to: URL(fileURLWithPath: file))
        let fileOnly = try await ServerConfiguration.load(file: file, overrides: [:], environment: [:])
        #expect(fileOnly.dataDirectory == "/from/file")
        #expect(fileOnly.socketPath == "/from/file/shmkvd.sock")
        #expect(fileOnly.threads == 3)
        #expect(fileOnly.durability == .fast)
        #expect(fileOnly.mapSize == 1 << 30)
        #expect(fileOnly.maxValueSize == 2048)

        let env = ["SHMKV_DATA_DIR": "/from/env", "SHMKV_STORAGE_DURABILITY": "volatile", "SHMKV_THREADS": "4"]
        let withEnv = try await ServerConfiguration.load(file: file, overrides: [:], environment: env)
        #expect(withEnv.dataDirectory == "/from/env")
        #expect(withEnv.durability == .volatile)
        #expect(withEnv.threads == 4)
        #expect(withEnv.listen == "127.0.0.1:1111")

        let flags: [String: ConfigValue] = ["dataDir": .init(.string("/from/flag"), isSecret: false),
                                            "listen": .init(.string("none"), isSecret: false)]
        let withFlags = try await ServerConfiguration.load(file: file, overrides: flags, environment: env)
        #expect(withFlags.dataDirectory == "/from/flag")
        #expect(withFlags.listen == nil)
        #expect(withFlags.durability == .volatile)
    }

    @Test("a misspelt SHMKV_* variable is reported with the name meant; known ones and the CLI's are not")
    func unknownEnvironmentVariablesAreNamed() throws {
        let found = ServerConfiguration.unknownEnvironmentVariables(in: [
            "SHMKV_STORAGE_DURABLITY": "fast", "SHMKV_STORAGE_DURABILITY": "fast", "SHMKV_SOCKET": "s", "SHMKV_PASSWORD": "p",
            "SHMKV_CONFIG": "c", "SHMKV_LIMITS_MAX_CLIENTS": "5", "SHMKV_NOTHING_LIKE_IT_AT_ALL": "1", "HOME": "/root",
        ])
        #expect(found.map(\.name) == ["SHMKV_NOTHING_LIKE_IT_AT_ALL", "SHMKV_STORAGE_DURABLITY"])
        #expect(found.map(\.nearest) == [nil, "SHMKV_STORAGE_DURABILITY"])
        #expect(ServerConfiguration.environmentName(of: "storage.mapSize") == "SHMKV_STORAGE_MAP_SIZE")
        #expect(ServerConfiguration.environmentName(of: "dataDir") == "SHMKV_DATA_DIR")
    }

    @Test("shmkvd warns about a misspelt SHMKV_* variable at start")
    func daemonWarnsAboutUnknownVariables() throws {
        let daemon = try Daemon(environment: ["SHMKV_RING_CAPACTY": "8192"])
        #expect(daemon.stop() == 0)
        #expect(daemon.stderrText().contains("SHMKV_RING_CAPACTY is not a setting of shmkvd and is ignored; did you mean SHMKV_RING_CAPACITY?"))
    }

    @Test func badValuesAreRefusedWithTheKeyNamed() async throws {
        await #expect {
            _ = try await ServerConfiguration.load(file: nil, overrides: [:], environment: ["SHMKV_STORAGE_DURABILITY": "sometimes"])
        } throws: { "\($0)".contains("storage.durability") }
        await #expect {
            _ = try await ServerConfiguration.load(file: nil, overrides: [:], environment: ["SHMKV_THREADS": "lots"])
        } throws: { "\($0)".contains("threads") }
        let dir = TemporaryDirectory("shmkv-config")
        defer { dir.remove() }
        try Data("limits:\n  maxClients: many\n".utf8).write(to: URL(fileURLWithPath: dir.file("bad.yaml")))
        await #expect {
            _ = try await ServerConfiguration.load(file: dir.file("bad.yaml"), overrides: [:], environment: [:])
        } throws: { "\($0)".contains("limits.maxClients") }
        try Data("storage:\n  durabilty: fast\nthreds: 2\n".utf8).write(to: URL(fileURLWithPath: dir.file("typo.yaml")))
        await #expect {
            _ = try await ServerConfiguration.load(file: dir.file("typo.yaml"), overrides: [:], environment: [:])
        } throws: { "\($0)".contains("unknown keys storage.durabilty, threds") || "\($0)".contains("unknown keys threds, storage.durabilty") }
        await #expect {
            _ = try await ServerConfiguration.load(file: nil, overrides: [:], environment: ["SHMKV_LISTEN": "nonsense"])
        } throws: { "\($0)".contains("listen must be HOST:PORT") }
        await #expect {
            _ = try await ServerConfiguration.load(file: nil, overrides: ["socket": .init(.string("none"), isSecret: false),
                                                                          "listen": .init(.string("none"), isSecret: false)], environment: [:])
        } throws: { "\($0)".contains("both listeners are off") }
    }

    @Test func theShippedConfigFileMatchesTheEmbeddedDefaults() async throws {
        // Config/shmkvd.yaml documents the defaults; it must not drift from the code.
        let path = FileManager.default.currentDirectoryPath + "/Config/shmkvd.yaml"
        let shipped = try await ServerConfiguration.load(file: path, overrides: [:], environment: [:])
        #expect(shipped == ServerConfiguration())
    }

    @Test func printConfigShowsTheLayeredResult() throws {
        let result = try runProcess(Products.path("shmkvd"), ["--print-config", "--threads", "7"],
                                    environment: ["SHMKV_STORAGE_DURABILITY": "fast"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("threads: 7"))
        #expect(result.stdout.contains("durability: fast"))
        #expect(result.stdout.contains("mapSize: 68719476736"))
    }

    @Test func printedConfigurationUsesExactlyTheKnownKeys() throws {
        // --print-config output is itself a valid configuration file with every known key.
        let dir = TemporaryDirectory("shmkv-config")
        defer { dir.remove() }
        let file = dir.file("printed.yaml")
        try Data(ServerConfiguration().renderYAML().utf8).write(to: URL(fileURLWithPath: file))
        let reread = try runProcess(Products.path("shmkvd"), ["--config", file, "--print-config"])
        #expect(reread.status == 0, "\(reread.stderr)")
        #expect(reread.stdout == ServerConfiguration().renderYAML())
        var printed = Set<String>()
        var section = ""
        for line in ServerConfiguration().renderYAML().split(separator: "\n") {
            let name = String(line.split(separator: ":")[0])
            if line.hasPrefix("  ") { printed.insert(section + "." + name.trimmingCharacters(in: .whitespaces)) }
            else if line.hasSuffix(":") { section = name } else { printed.insert(name) }
        }
        #expect(printed == ServerConfiguration.knownKeys)
    }

    @Test func aBadFlagValueStopsTheDaemonWithAMessage() throws {
        let result = try runProcess(Products.path("shmkvd"), ["--print-config", "--durability", "never"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("storage.durability must be one of durable, fast, volatile"))
    }
}
