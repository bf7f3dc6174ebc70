import Foundation
import ShmKV
import TestSupport
import Testing

/// `shmkv dump` and `shmkv load` carry deadlines in both formats and leave out keys already expired.
@Suite struct DumpDeadlineTests {
    let cli = Products.path("shmkv")

    @Test("dump (local and through the daemon) and load keep each key's deadline in JSON and redis form; expired keys are left out",
          arguments: ["json", "redis"])
    func deadlinesSurviveDumpAndLoad(format: String) throws {
        let source = try Daemon()
        defer { source.stop() }
        let client = try Client(socketPath: source.socketPath, timeoutSeconds: 10)
        defer { client.close() }
        _ = try client.put("keep", "forever")
        _ = try client.put(Array("hour".utf8), Array("x".utf8), expiry: .after(milliseconds: 3_600_000))
        _ = try client.put(Array("brief".utf8), Array("y".utf8), expiry: .after(milliseconds: 50))
        guard case .expires(let deadline, _) = try client.ttl(Array("hour".utf8)) else {
            Issue.record("hour has no deadline")
            return
        }
        usleep(100_000)  // brief is past its deadline (whether or not the daemon deleted it yet)
        for how in [["--data-dir", source.dataDirectory], ["--socket", source.socketPath]] {
            let dump = try runProcess(cli, ["dump", "--format", format] + how)
            #expect(dump.status == 0, "\(dump.stderr)")
            if format == "json" {
                #expect(dump.stdout == """
                    {"deadline_ms":\(deadline),"key":"hour","value":"x"}
                    {"key":"keep","value":"forever"}

                    """, "\(how)")
            } else {
                #expect(dump.stdout == "*5\r\n$3\r\nSET\r\n$4\r\nhour\r\n$1\r\nx\r\n$4\r\nPXAT\r\n$\(String(deadline).count)\r\n\(deadline)\r\n"
                        + "*3\r\n$3\r\nSET\r\n$4\r\nkeep\r\n$7\r\nforever\r\n", "\(how)")
            }
            let target = try Daemon()
            defer { target.stop() }
            let load = try runProcess(cli, ["load", "--format", format, "--socket", target.socketPath], stdin: dump.stdoutBytes)
            #expect(load.status == 0, "\(load.stderr)")
            let loaded = try Client(socketPath: target.socketPath, timeoutSeconds: 10)
            defer { loaded.close() }
            #expect(try loaded.ttl(Array("keep".utf8)) == .persistent)
            guard case .expires(let copied, _) = try loaded.ttl(Array("hour".utf8)) else {
                Issue.record("\(how) \(format): the deadline was dropped")
                continue
            }
            #expect(copied == deadline)
            #expect(try loaded.get("brief") == nil)
        }
    }

    @Test("load leaves out a JSON line whose deadline has passed and refuses a malformed deadline")
    func pastDeadlinesAreNotLoaded() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let lines = "{\"key\":\"old\",\"value\":\"v\",\"deadline_ms\":1000}\n{\"key\":\"new\",\"value\":\"v\"}\n"
        let load = try runProcess(cli, ["load", "--socket", daemon.socketPath], stdin: Array(lines.utf8))
        #expect(load.status == 0 && load.stderr.contains("left out 1 whose deadline had passed"), "\(load.stderr)")
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        defer { client.close() }
        #expect(try client.get("old") == nil && client.get("new") == Array("v".utf8))
        let bad = try runProcess(cli, ["load", "--socket", daemon.socketPath], stdin: Array("{\"key\":\"k\",\"value\":\"v\",\"deadline_ms\":\"soon\"}\n".utf8))
        #expect(bad.status == 2 && bad.stderr.contains("deadline_ms must be a Unix time"), "\(bad.stderr)")
    }
}
