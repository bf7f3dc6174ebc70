// swift-tools-version: 6.2
import PackageDescription

// Release builds of the daemon's request path do not check exclusive access at run time: those checks
// (`swift_beginAccess` on every access to a class's stored property) cost a quarter of a SET's CPU at
// -P 16 (Benchmarks/README.md). Debug builds — every test, sanitizer and fuzz run — keep them, so a
// violation still traps where the tests can see it. Only the server's own targets: the client library
// (`ShmKV`) keeps the default, so packages that depend on it build as they would with any other.
let requestPathSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "ShmKV",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ShmKV", targets: ["ShmKV"]),
        .library(name: "ShmKVServer", targets: ["ShmKVServer"]),
        .executable(name: "shmkvd", targets: ["shmkvd"]),
        .executable(name: "shmkv", targets: ["shmkv"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["YAML"]),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // Errno (typed errno values with names); its FileDescriptor is not used (see Sources/Posix).
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        // Heap: the event loop's timers.
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        // Already in the graph through swift-configuration's YAML trait; used directly only to list the
        // keys of a configuration file, so that a misspelt key is an error rather than silently ignored.
        .package(url: "https://github.com/jpsim/Yams", "5.4.0"..<"7.0.0"),
    ],
    targets: [
        // System library: Debian's liblmdb-dev (LMDB 0.9.24), found through pkg-config.
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        // System library: Debian's libedit-dev (BSD editline), the line editor and history of shmkv's
        // prompt: emacs and vi keys, UTF-8, incremental search, a history file, which no code of ours
        // would match (GNU readline would do the same under the GPL).
        // System library: Debian's Lua 5.1 with lua-cjson and lua-bitop, the interpreter Redis embeds, for
        // EVAL and FUNCTION (liblua5.1-0-dev, lua-cjson-dev, lua-bitop-dev).
        .systemLibrary(name: "CLua", pkgConfig: "lua5.1", providers: [.apt(["liblua5.1-0-dev", "lua-cjson-dev", "lua-bitop-dev"])]),
        // The Swift face of Lua: a state with a memory bound, protected calls, Swift functions Lua calls.
        .target(name: "Lua", dependencies: ["CLua"]),
        .systemLibrary(name: "CEdit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        // The few C helpers Swift cannot call directly (epoll, eventfd, futex).
        .target(name: "CShim"),
        // The project's mutex (pthread-based, so ThreadSanitizer sees it; see Locked.swift).
        .target(name: "Locks"),
        // Descriptors that close exactly once, the one errno path, the one monotonic clock.
        .target(name: "Posix", dependencies: ["Locks", .product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "LMDB", dependencies: ["CLMDB", "Locks"]),
        // The on-disk vocabulary: database names, meta keys and their encodings, key limits.
        .target(name: "StoreLayout", dependencies: ["LMDB"]),
        // The notification ring: a memory-mapped broadcast buffer with one publisher, many subscribers.
        .target(name: "NotifyRing", dependencies: ["CShim", "Posix", .product(name: "Atomics", package: "swift-atomics")]),
        .target(name: "Wire"),
        // Redis's RDB format: CRC64, LZF, lengths and strings, DUMP payloads (pure, no I/O).
        .target(name: "RDB"),
        // The keyspace's values as RDB values (DUMP, `shmkv dump --rdb`): the bridge between the two.
        .target(name: "StoreRDB", dependencies: ["RDB", "StoreLayout"]),
        .target(
            name: "Reactor",
            dependencies: ["CShim", "Posix", "Locks", .product(name: "HeapModule", package: "swift-collections")],
            swiftSettings: requestPathSettings
        ),
        .target(
            name: "ShmKVServer",
            dependencies: [
                "LMDB", "StoreLayout", "NotifyRing", "Wire", "Reactor", "Posix", "Locks", "Lua", "RDB", "StoreRDB",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: requestPathSettings
        ),
        .target(name: "ShmKV", dependencies: ["LMDB", "StoreLayout", "NotifyRing", "Wire", "Posix", "Locks", "RDB", "StoreRDB"]),
        // `shmkv bench`: the load generator (our event loop, HdrHistogram percentiles).
        .target(
            name: "ShmKVBench",
            dependencies: ["ShmKV", "Wire", "Posix", "Reactor", "Locks", .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .executableTarget(
            name: "shmkvd",
            dependencies: [
                "ShmKVServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
            ]
        ),
        .executableTarget(
            name: "shmkv",
            dependencies: [
                "ShmKV", "ShmKVBench", "Wire", "CEdit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Examples build with the package, so CI proves they compile.
        .executableTarget(name: "kv-client-example", dependencies: ["ShmKV"], path: "Examples/KVClientExample"),
        .executableTarget(name: "embedded-reader-example", dependencies: ["ShmKV"], path: "Examples/EmbeddedReader"),
        .executableTarget(name: "change-watcher-example", dependencies: ["ShmKV"], path: "Examples/ChangeWatcher"),
        .executableTarget(name: "async-client-example", dependencies: ["ShmKV"], path: "Examples/AsyncClientExample"),
        // Benchmarks print numbers; they never pass or fail.
        .executableTarget(
            name: "shmkv-bench",
            dependencies: [
                "ShmKV",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Benchmarks/ClientLoop"
        ),
        .executableTarget(
            name: "shmkv-async-bench",
            dependencies: [
                "ShmKV", "Locks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Benchmarks/AsyncClient"
        ),
        .executableTarget(
            name: "shmkv-shm-bench",
            dependencies: [
                "ShmKV", "LMDB", "NotifyRing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Benchmarks/SharedMemory"
        ),
        // libFuzzer targets (make fuzz builds them with -sanitize=fuzzer,address -DFUZZING); in an
        // ordinary build each is a program that replays the files it is given, which make test runs on
        // the seed corpora and the regressions.
        .target(name: "FuzzReplay", path: "Tests/Fuzz/Targets/FuzzReplay"),
        .executableTarget(name: "fuzz-resp-decoder", dependencies: ["Wire", "FuzzReplay"], path: "Tests/Fuzz/Targets/RESPDecoderFuzz"),
        .executableTarget(name: "fuzz-native-decoder", dependencies: ["Wire", "FuzzReplay"], path: "Tests/Fuzz/Targets/NativeDecoderFuzz"),
        .executableTarget(name: "fuzz-rdb-decoder", dependencies: ["RDB", "FuzzReplay"], path: "Tests/Fuzz/Targets/RDBDecoderFuzz"),
        .executableTarget(name: "fuzz-replication-stream", dependencies: ["RDB", "FuzzReplay"], path: "Tests/Fuzz/Targets/ReplicationStreamFuzz"),
        .executableTarget(name: "fuzz-collection-records", dependencies: ["LMDB", "StoreLayout", "FuzzReplay"],
                          path: "Tests/Fuzz/Targets/CollectionRecordFuzz"),
        .target(
            name: "FuzzServer",
            dependencies: ["ShmKVServer", .product(name: "Logging", package: "swift-log")],
            path: "Tests/Fuzz/Targets/FuzzServer"
        ),
        .executableTarget(name: "fuzz-server", dependencies: ["FuzzServer", "FuzzReplay"], path: "Tests/Fuzz/Targets/ServerFuzz"),
        .executableTarget(name: "fuzz-scripts", dependencies: ["FuzzServer", "FuzzReplay"], path: "Tests/Fuzz/Targets/ScriptFuzz"),
        // A helper the tests spawn as a real second process.
        .executableTarget(name: "shmkv-probe", dependencies: ["LMDB", "NotifyRing", "ShmKV"], path: "Tests/Helpers/shmkv-probe"),
        // Shared by the test targets: temporary directories, spawning the real daemon and helpers.
        .target(name: "TestSupport", dependencies: ["RDB", "Wire"], path: "Tests/TestSupport"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "TestSupport"]),
        .testTarget(name: "NotifyRingTests", dependencies: ["NotifyRing", "Posix", "TestSupport"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "TestSupport"]),
        .testTarget(name: "RDBTests", dependencies: ["RDB", "TestSupport"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor", "Posix"]),
        .testTarget(name: "ShmKVServerTests", dependencies: ["ShmKVServer", "ShmKV", "LMDB", "Wire", "Locks", "RDB", "TestSupport"]),
        .testTarget(name: "ShmKVTests", dependencies: ["ShmKV", "LMDB", "Wire", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
