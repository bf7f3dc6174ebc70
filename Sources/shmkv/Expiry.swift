import ArgumentParser
import Foundation
import ShmKV

/// A time given in seconds on the command line (decimals allowed), as milliseconds.
func milliseconds(seconds: Double, option: String) throws -> Int64 {
    let ms = (seconds * 1000).rounded()
    guard ms.isFinite, ms >= 1, ms < Double(Int64.max / 2) else {
        throw ValidationError("\(option) must be at least 0.001 seconds")
    }
    return Int64(ms)
}

struct TTL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ttl",
        abstract: "Print how long a key has left: 'N ms (at TIME)', 'persistent', or 'missing' (exit 1).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var localOptions: LocalOptions
    @Argument(help: "The key.") var key: String

    func run() async throws {
        let ttl: TimeToLive
        if localOptions.isLocal {
            let store = try localOptions.open(for: connection)
            do { ttl = try store.ttl(Array(key.utf8)) } catch {
                Display.error("\(error)")
                throw ExitCode(ExitStatus.serverOrConnection)
            }
        } else {
            ttl = try await withClient(connection) { try $0.ttl(Array(key.utf8)) }
        }
        switch ttl {
        case .missing:
            if connection.json { Display.printJSON(["key": key, "exists": false]) } else { print("missing") }
            throw ExitCode(ExitStatus.notFound)
        case .persistent:
            if connection.json { Display.printJSON(["key": key, "exists": true, "ttl_ms": NSNull()]) } else { print("persistent") }
        case .expires(let deadline, let remaining):
            if connection.json {
                Display.printJSON(["key": key, "exists": true, "ttl_ms": remaining, "deadline_ms": deadline])
            } else {
                let at = Date(timeIntervalSince1970: Double(deadline) / 1000)
                print("\(remaining) ms (at \(at.formatted(.iso8601)))")
            }
        }
    }
}

struct Expire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Give a key a time to live, a Unix time to expire at, or (--persist) none; exit 1 if there is no such key.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The key.") var key: String
    @Argument(help: "Seconds from now (decimals allowed); 0 or less deletes the key.") var seconds: Double?
    @Option(name: .long, help: "Expire at this Unix time in seconds (decimals allowed) instead.") var at: Double?
    @Flag(name: .long, help: "Remove the key's deadline instead.") var persist = false

    func validate() throws {
        if [seconds != nil, at != nil, persist].filter({ $0 }).count != 1 {
            throw ValidationError("give exactly one of SECONDS, --at or --persist")
        }
    }

    func run() async throws {
        let done: Bool = try await withClient(connection) { client in
            if persist { return try client.persist(Array(key.utf8)) }
            if let at { return try client.expire(Array(key.utf8), milliseconds: Int64((at * 1000).rounded()), mode: .absolute) }
            return try client.expire(Array(key.utf8), milliseconds: Int64((seconds! * 1000).rounded()))
        }
        if connection.json { Display.printJSON(["key": key, "done": done]) } else { print(done ? "1" : "0") }
        if !done { throw ExitCode(ExitStatus.notFound) }
    }
}
