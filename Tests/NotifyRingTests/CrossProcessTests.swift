import Foundation
import Testing
import TestSupport

@Suite("Notification ring across processes")
struct CrossProcessTests {
    @Test("one publisher process, three subscriber processes: each sees every sequence once, in order, or a resync covering it; a SIGKILLed subscriber disturbs nobody")
    func publisherAndSubscriberProcesses() throws {
        let directory = TemporaryDirectory("ring-xp")
        defer { directory.remove() }
        let path = directory.file("xp.ring")
        let count = 200_000
        let probe = Products.path("shmkv-probe")
        let publisher = try ChildProcess(probe, ["ring-publish", path, "\(count)", "\(64 * 1024)", "64"])
        #expect(publisher.readLine() == "ready")
        var subscribers: [ChildProcess] = []
        for i in 0..<4 {
            // The fourth waits for more than will ever come, so it cannot finish before it is killed.
            let last = i == 3 ? count + 1_000_000 : count
            let s = try ChildProcess(probe, ["ring-subscribe", path, "\(last)"])
            #expect(s.readLine() == "subscribed")
            subscribers.append(s)
        }
        publisher.send("go")
        // The fourth subscriber dies mid-stream, possibly while registered as a futex waiter.
        usleep(20_000)
        subscribers[3].signal(SIGKILL)
        #expect(subscribers[3].wait() != 0)
        #expect(publisher.readLine(startingWith: "done") == "done \(count + 1)")
        #expect(publisher.wait() == 0)
        for s in subscribers.prefix(3) {
            let line = s.readLine() ?? "(no output)"
            #expect(line.hasPrefix("ok changes="), "\(line) \(s.stderrText())")
            #expect(s.wait() == 0)
            // Each must have delivered something itself, not only resyncs.
            let changes = line.split(separator: " ").first { $0.hasPrefix("changes=") }.flatMap { Int($0.dropFirst(8)) } ?? 0
            #expect(changes > 0)
        }
    }
}
