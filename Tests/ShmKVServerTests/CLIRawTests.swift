import Foundation
import ShmKV
import TestSupport
import Testing

/// The CLI as redis-cli users type it: options before the command, any command passed through to the
/// daemon, replies printed as redis-cli prints them (compared byte for byte with redis-cli against a
/// real redis-server), and the interactive prompt with history (driven through a pseudo-terminal).
@Suite struct CLIRawTests {
    let cli = Products.path("shmkv")

    @Test func optionsGoBeforeOrAfterTheCommandAndOtherCommandsPassThrough() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let socket = ["--socket", daemon.socketPath]
        let tcp = ["--host", daemon.tcpHost, "--port", String(daemon.tcpPort)]
        // redis-cli's order, shmkv's own order, and `--option=value`.
        #expect(try runProcess(cli, socket + ["put", "a", "1"]).stdout == "OK\n")
        #expect(try runProcess(cli, tcp + ["get", "a"]).stdout == "1\n")
        #expect(try runProcess(cli, ["get", "a"] + socket).stdout == "1\n")
        #expect(try runProcess(cli, ["--socket=\(daemon.socketPath)", "--json", "get", "a"]).stdout == "{\"key\":\"a\",\"value\":\"1\"}\n")
        #expect(try runProcess(cli, socket + ["--timeout", "5", "incr", "n", "--by", "4"]).stdout == "4\n")

        // Commands that are not shmkv's own go to the daemon over RESP; into a pipe, bare values.
        #expect(try runProcess(cli, socket + ["SET", "k", "v w"]).stdout == "OK\n")
        #expect(try runProcess(cli, tcp + ["GET", "k"]).stdout == "v w\n")
        #expect(try runProcess(cli, socket + ["raw", "EXISTS", "k", "a", "nope"]).stdout == "2\n")
        #expect(try runProcess(cli, socket + ["--no-raw", "MGET", "k", "nope", "a"]).stdout == "1) \"v w\"\n2) (nil)\n3) \"1\"\n")
        #expect(try runProcess(cli, socket + ["--json", "MGET", "k", "nope"]).stdout == "[\"v w\",null]\n")
        let unknown = try runProcess(cli, socket + ["NOSUCH", "x"])
        #expect(unknown.status == 2)
        #expect(unknown.stdout == "ERR unknown command 'NOSUCH', with args beginning with: 'x' \n\n")
        // One command per line from a pipe, quoted as redis-cli splits them; a failure makes the exit 2.
        let piped = try runProcess(cli, socket, stdin: Array("SET q \"a \\\"b\\\"\"\nGET q\n\nINCR q\nDBSIZE\n".utf8))
        #expect(piped.stdout == "OK\na \"b\"\nERR value is not an integer or out of range\n\n4\n")
        #expect(piped.status == 2)

        // Values people read: the durability's name, sizes with units; numbers in --json.
        let stats = try runProcess(cli, socket + ["stats"]).stdout
        #expect(stats.split(separator: "\n").contains { $0.hasPrefix("durability") && $0.hasSuffix(" durable") })
        #expect(stats.split(separator: "\n").contains { $0.hasPrefix("max_value_size") && $0.hasSuffix(" 64.0 MiB (67108864 bytes)") })
        let json = try JSONSerialization.jsonObject(with: Data(try runProcess(cli, socket + ["--json", "stats"]).stdout.utf8)) as? [String: Int]
        #expect(json?["durability"] == 0)
    }

    /// The same command line to redis-cli and to shmkv, both against one redis-server: stdout must be
    /// equal, into a pipe (bare) and with --no-raw (typed, as on a terminal).
    @Test func repliesArePrintedExactlyAsRedisCLIPrintsThem() throws {
        let redis = try RedisServer()
        // Set up once through redis-cli; the compared commands only read, so both see the same state.
        for setup in [["SET", "s", "hello world"], ["SET", "bin", "\u{1}\"\\\n\t\r\u{7}\u{8} é\u{7F}"],
                      ["RPUSH", "l", "a", "", "b c"], ["HSET", "h", "f", "v"]] {
            #expect(try runProcess("/usr/bin/redis-cli", ["-s", redis.socketPath] + setup).status == 0)
        }
        let commands: [[String]] = [
            ["PING"], ["GET", "s"], ["GET", "nope"], ["TYPE", "s"], ["GET", "bin"], ["STRLEN", "bin"],
            ["TTL", "s"], ["NOSUCH", "x"], ["GET"], ["LRANGE", "l", "0", "-1"], ["LRANGE", "nope", "0", "-1"],
            ["EVAL", "return {1, {2, 'x', {}}, 'y', {{'deep'}}}", "0"],
            ["EVAL", "local t = {} for i = 1, 12 do t[i] = {i, 'v' .. i} end return t", "0"],
            ["HGETALL", "h"], ["CONFIG", "GET", "maxmemory-policy"],
        ]
        for typed in [false, true] {
            let mode = typed ? ["--no-raw"] : []
            for command in commands {
                let expected = try runProcess("/usr/bin/redis-cli", ["-s", redis.socketPath] + mode + command)
                let got = try runProcess(cli, ["--socket", redis.socketPath] + mode + command)
                #expect(got.stdout == expected.stdout, "\(typed ? "--no-raw " : "")\(command): shmkv \(got.stdout.debugDescription) redis-cli \(expected.stdout.debugDescription) \(got.stderr)")
            }
        }
    }

    /// A pseudo-terminal session: the prompt names the socket, replies are typed, the up arrow recalls the
    /// last line, and the history outlives the session.
    @Test func thePromptEditsLinesAndKeepsHistory() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let history = daemon.directory.file("history")
        let script = """
            import fcntl, os, pty, select, struct, sys, termios, time
            shmkv, socket, history, session = sys.argv[1:5]
            pid, fd = pty.fork()
            if pid == 0:
                os.environ.update(TERM="xterm", SHMKV_HISTFILE=history)
                os.execv(shmkv, [shmkv, "--socket", socket])
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
            seen = b""
            def expect(token):
                global seen
                deadline = time.time() + 30
                while token not in seen:
                    ready, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
                    if not ready:
                        sys.exit("no %r within 30 s; the terminal showed %r" % (token, seen))
                    try:
                        data = os.read(fd, 4096)
                    except OSError:
                        data = b""
                    if not data:
                        sys.exit("the session ended before %r; the terminal showed %r" % (token, seen))
                    seen += data
                seen = seen[seen.index(token) + len(token):]
            prompt = (socket + "> ").encode()
            expect(prompt)
            if session == "1":
                os.write(fd, b'set greeting "hello world"\\r'); expect(b"OK"); expect(prompt)
                os.write(fd, b"get greeting\\r"); expect(b'"hello world"'); expect(prompt)
                os.write(fd, b"incr visits\\r"); expect(b"(integer) 1"); expect(prompt)
                os.write(fd, b"\\x1b[A\\r"); expect(b"(integer) 2"); expect(prompt)
                os.write(fd, b"nosuch\\r"); expect(b"(error) ERR unknown command 'nosuch'"); expect(prompt)
            else:
                # The previous session's lines, newest first: quit, nosuch, incr visits.
                os.write(fd, b"\\x1b[A\\x1b[A\\x1b[A\\r"); expect(b"(integer) 3"); expect(prompt)
            os.write(fd, b"quit\\r")
            _, status = os.waitpid(pid, 0)
            sys.exit(os.WEXITSTATUS(status))
            """
        for session in ["1", "2"] {
            let run = try runProcess("/usr/bin/python3", ["-c", script, cli, daemon.socketPath, history, session])
            #expect(run.status == 0, "session \(session): \(run.stderr)")
        }
        // libedit's history file: a header line, then one line per entry with spaces written as \040.
        let saved = try String(contentsOfFile: history, encoding: .utf8).replacingOccurrences(of: "\\040", with: " ")
        #expect(saved.contains("incr visits") && saved.contains("get greeting"), "history file: \(saved)")
    }
}
