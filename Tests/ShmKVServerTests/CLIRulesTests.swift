import Foundation
import ShmKV
import TestSupport
import Testing

/// The CLI's rules a new user meets first: where options go, typos, help, one line per entry, --json on
/// every command, and a local watch that says what it waits for.
@Suite struct CLIRulesTests {
    let cli = Products.path("shmkv")

    @Test("options come before a raw command; one after it is refused, never sent; -- sends it as an argument")
    func optionsBeforeTheCommand() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let port = String(daemon.tcpPort)
        for late in [["DBSIZE", "--port", port], ["CONFIG", "GET", "port", "--port", port], ["--port", port, "ECHO", "--json"],
                     ["raw", "DBSIZE", "--socket", daemon.socketPath]] {
            let refused = try runProcess(cli, late)
            #expect(refused.status == 64 && refused.stdout.isEmpty, "\(late): \(refused.stdout)")
            #expect(refused.stderr.contains("comes after the command"), "\(late): \(refused.stderr)")
        }
        #expect(try runProcess(cli, ["--port", port, "CONFIG", "GET", "port"]).stdout.hasPrefix("port\n"))
        #expect(try runProcess(cli, ["--socket", daemon.socketPath, "raw", "DBSIZE"]).stdout == "0\n")
        #expect(try runProcess(cli, ["--port", port, "--", "ECHO", "--port"]).stdout == "--port\n")
        // shmkv's own subcommands take their options anywhere among their arguments, as before.
        #expect(try runProcess(cli, ["ping", "--port", port]).stdout == "PONG\n")
    }

    @Test("a typo of a subcommand is an unknown command with the nearest subcommand named; help at the prompt stays local")
    func typosAndHelp() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let typo = try runProcess(cli, ["--socket", daemon.socketPath, "gett", "a"])
        #expect(typo.status == 2 && typo.stdout.contains("unknown command"))
        #expect(typo.stderr.contains("did you mean 'shmkv get'?"), "\(typo.stderr)")
        let swapped = try runProcess(cli, ["--socket", daemon.socketPath, "sacn"])
        #expect(swapped.stderr.contains("did you mean 'shmkv scan'?"), "\(swapped.stderr)")
        let prompt = try runProcess(cli, ["--socket", daemon.socketPath], stdin: Array("help\nPING\n".utf8))
        #expect(prompt.status == 0 && prompt.stdout.contains("COMMAND DOCS") && prompt.stdout.hasSuffix("PONG\n"), "\(prompt.stdout)")
        // Every subcommand's help shows each default once.
        for command in ["bench", "load", "dump", "watch", "scan", "backup", "restore", "raw"] {
            let help = try runProcess(cli, [command, "--help"]).stdout
            #expect(help.range(of: #"\(default: [^)]*\)\.? *\(default:"#, options: .regularExpression) == nil, "\(command): \(help)")
            #expect(!help.replacingOccurrences(of: "\n", with: " ").contains(#"(default: 50). (default: 50)"#))
        }
        #expect(try runProcess(cli, ["restore", "--help"]).stdout.contains("--replace"))
    }

    @Test("scan, get and watch print one entry per line: tabs, newlines and quotes in keys or values are escaped")
    func oneEntryPerLine() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        defer { client.close() }
        _ = try client.put(Array("a\tkey".utf8), Array("line 1\nline 2\tend".utf8))
        _ = try client.put(Array("b".utf8), Array("\"quoted\"".utf8))
        _ = try client.put(Array("c".utf8), Array("plain é".utf8))
        let scan = try runProcess(cli, ["scan", "--socket", daemon.socketPath])
        #expect(scan.stdout == "\"a\\tkey\"\t\"line 1\\nline 2\\tend\"\nb\t\"\\\"quoted\\\"\"\nc\tplain é\n", "\(scan.stdout)")
        #expect(try runProcess(cli, ["get", "--socket", daemon.socketPath, "c"]).stdout == "plain é\n")
        let watch = try runProcess(cli, ["watch", "--socket", daemon.socketPath, "--from", "1", "--count", "1"])
        #expect(watch.stdout == "put 1 \"a\\tkey\"\n", "\(watch.stdout)")
    }

    @Test("backup, restore, load and dump take --json like every other command")
    func everyCommandTakesJSON() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let scratch = TemporaryDirectory("shmkv-json")
        defer { scratch.remove() }
        #expect(try runProcess(cli, ["put", "--socket", daemon.socketPath, "k", "v"]).status == 0)
        func object(_ result: ProcessResult) -> [String: Any]? {
            try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        }
        let backup = try runProcess(cli, ["backup", "--json", "--socket", daemon.socketPath, scratch.file("b")])
        #expect(object(backup)?["source"] as? String == URL(fileURLWithPath: daemon.dataDirectory).resolvingSymlinksInPath().path, "\(backup.stdout) \(backup.stderr)")
        let restore = try runProcess(cli, ["restore", "--json", scratch.file("b"), scratch.file("r")])
        #expect(restore.status == 0 && (object(restore)?["bytes"] as? Int ?? 0) > 0, "\(restore.stdout) \(restore.stderr)")
        let again = try runProcess(cli, ["restore", scratch.file("b"), scratch.file("r")])
        #expect(again.status == 2 && again.stderr.contains("pass --replace"), "\(again.stderr)")
        let load = try runProcess(cli, ["load", "--json", "--socket", daemon.socketPath], stdin: Array("{\"key\":\"x\",\"value\":\"y\"}\n".utf8))
        #expect(object(load)?["loaded"] as? Int == 1, "\(load.stdout) \(load.stderr)")
        let dump = try runProcess(cli, ["dump", "--json", "--socket", daemon.socketPath])
        #expect(dump.stdout == "{\"key\":\"k\",\"value\":\"v\"}\n{\"key\":\"x\",\"value\":\"y\"}\n", "\(dump.stdout) \(dump.stderr)")
        #expect(try runProcess(cli, ["dump", "--json", "--format", "redis", "--socket", daemon.socketPath]).status == 64)
    }

    @Test("a local watch of a store whose daemon is stopped says that it waits for one")
    func watchWithoutARingSaysSo() throws {
        let daemon = try Daemon()
        let directory = daemon.directory
        let data = daemon.dataDirectory
        _ = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10).put("k", "v")
        // Keep the temporary directory: stop() leaves it, deinit removes it.
        daemon.stop()
        _ = directory
        do {
            let result = try runProcess(cli, ["watch", "--data-dir", data, "--count", "1"], timeoutSeconds: 3)
            Issue.record("watch ended without a daemon: \(result.status) \(result.stderr)")
        } catch let timedOut as ProcessTimedOut {
            #expect(timedOut.stderr.contains("does not exist: no shmkvd runs on"), "\(timedOut.stderr)")
            #expect(timedOut.stderr.contains("waiting for one to start"))
        }
    }
}
