import ArgumentParser
import Foundation
import ShmKV

struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Post a message to a channel; prints the receivers the daemon counts (its subscribed connections).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The channel.") var channel: String
    @Argument(help: "The message, or '-' to read it from stdin.") var message: String

    func run() async throws {
        let payload = message == "-" ? Array(FileHandle.standardInput.readDataToEndOfFile()) : Array(message.utf8)
        let receivers = try await withClient(connection) { try $0.publish(Array(channel.utf8), payload) }
        if connection.json { Display.printJSON(["channel": channel, "receivers": receivers]) } else { print(receivers) }
    }
}

struct Subscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print messages published on channels (and --pattern globs), one line each.",
        discussion: """
            Lines are 'message SEQ CHANNEL PAYLOAD', 'pmessage SEQ PATTERN CHANNEL PAYLOAD', or 'resync \
            REASON FROM-TO' when ring records were missed (the messages among them are gone). Messages \
            come straight from the notification ring when the data directory is readable (--data-dir, or \
            the daemon's own; such a reader is not counted by PUBLISH), over the socket otherwise (or with \
            --remote).
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var localOptions: LocalOptions
    @Argument(help: "Channels.") var channels: [String] = []
    @Option(name: .long, help: "A channel pattern (Redis's glob syntax); may repeat.") var pattern: [String] = []
    @Option(name: .long, help: "Exit after this many messages.") var count: Int?
    @Flag(name: .long, help: "Subscribe over the socket even when the data directory is readable.") var remote = false

    func validate() throws {
        if channels.isEmpty && pattern.isEmpty { throw ValidationError("give at least one channel or --pattern") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if remote && localOptions.isLocal { throw ValidationError("--remote cannot be combined with --local or --data-dir") }
    }

    func run() async throws {
        let names = channels.map { Array($0.utf8) }
        let globs = pattern.map { Array($0.utf8) }
        let next: (Int?) throws -> MessageEvent?
        if let local = try localSubscriber(names, globs) {
            next = { local.next(timeoutMilliseconds: $0) }
        } else {
            let remote = try await withClient(connection) { try $0.subscribe(channels: names, patterns: globs) }
            next = { try remote.next(timeoutMilliseconds: $0) }
        }
        var seen = 0
        while count.map({ seen < $0 }) ?? true {
            let event: MessageEvent?
            do { event = try next(nil) } catch {
                Display.error("\(error)")
                throw ExitCode(ExitStatus.serverOrConnection)
            }
            guard let event else { continue }
            if case .message = event { seen += 1 }
            Display.line(connection.json ? Display.jsonLine(event) : Display.text(event))
        }
    }

    private func localSubscriber(_ names: [[UInt8]], _ globs: [[UInt8]]) throws -> MessageSubscriber? {
        try localOptions.ringSubscriber(for: connection, remote: remote, { try $0.subscribeMessages(channels: names, patterns: globs) },
                                        missingRing: { $0.isWaitingForRing ? $0.ringPath : nil })
    }
}

extension Display {
    /// One message event as a line of text.
    static func text(_ event: MessageEvent) -> String {
        switch event {
        case .message(let m) where m.pattern != nil:
            "pmessage \(m.sequence) \(text(m.pattern!)) \(text(m.channel)) \(text(m.payload))"
        case .message(let m): "message \(m.sequence) \(text(m.channel)) \(text(m.payload))"
        case .resync(let r): text(r)
        }
    }

    /// One message event as a JSON object on one line.
    static func jsonLine(_ event: MessageEvent) -> String {
        switch event {
        case .message(let m):
            jsonLine(["event": "message", "sequence": m.sequence, "channel": json(m.channel), "payload": json(m.payload),
                      "pattern": m.pattern.map(json) ?? NSNull()])
        case .resync(let r): jsonLine(r)
        }
    }
}
