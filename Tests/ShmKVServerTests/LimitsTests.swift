import Foundation
import ShmKV
import TestSupport
import Testing
import Wire

/// Each limit holds exactly, with the error (or the closing) a client sees; resident memory under abuse.
@Suite("Limits and protected mode")
struct LimitsTests {
    /// A process's resident-memory peak (VmHWM) and current size (VmRSS) in KiB.
    func memory(_ pid: Int32) -> (peak: Int, current: Int) {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return (field("VmHWM:"), field("VmRSS:"))
    }

    func info(_ daemon: Daemon, _ field: String) throws -> Int? {
        let text = String(decoding: try RawConnection.exchange(unixPath: daemon.socketPath, respCommand("INFO", "stats")), as: UTF8.self)
        guard let line = text.split(separator: "\r\n").first(where: { $0.hasPrefix(field + ":") }) else { return nil }
        return Int(line.dropFirst(field.count + 1))
    }

    @Test("a RESP client that sends GETs of 100 KB and never reads holds at most maxOutputBuffer plus one reply; every reply still arrives in order")
    func outputBufferHoldsExactly() throws {
        let limit = 1 << 20
        let daemon = try Daemon(environment: ["SHMKV_LIMITS_MAX_OUTPUT_BUFFER": String(limit)])
        defer { daemon.stop() }
        let value = String(repeating: "v", count: 100_000)
        let setup = try RawConnection(unixPath: daemon.socketPath)
        setup.send(respCommand("SET", "big", value))
        #expect(setup.read(5) == Array("+OK\r\n".utf8))
        let before = memory(daemon.pid)
        // 3,000 GETs (300 MB of replies) in one go, and nothing read for a while.
        let count = 3000
        let abuser = try RawConnection(unixPath: daemon.socketPath)
        let requests = Array(repeating: respCommand("GET", "big"), count: count).flatMap { $0 }
        let sender = Thread { abuser.send(requests) }
        sender.start()
        sleep(2)
        let during = memory(daemon.pid)
        let grownKiB = during.peak - before.peak
        print("resident memory: before \(before.current) KiB, peak while a client does not read \(during.peak) KiB (+\(grownKiB) KiB; limit \(limit / 1024) KiB + one reply)")
        // The unsent output, one reply over, the 30 KB of requests and the allocator's slack: far below
        // the 300 MB the replies would take.
        #expect(grownKiB < 3 * limit / 1024 + 8 * 1024, "the daemon grew by \(grownKiB) KiB")
        // Reading resumes the connection; every reply comes, in order.
        let reply = Array("$100000\r\n\(value)\r\n".utf8)
        for i in 0..<count {
            let got = abuser.read(reply.count)
            guard got == reply else { Issue.record("reply \(i) differs or is missing"); return }
        }
        setup.send(respCommand("PING"))
        #expect(setup.read(7) == Array("+PONG\r\n".utf8))
    }

    @Test("a client that stops reading at the output limit and then shuts its socket is closed by the daemon, not kept")
    func resetWhileWaitingForOutputRoom() throws {
        let daemon = try Daemon(environment: ["SHMKV_LIMITS_MAX_OUTPUT_BUFFER": "65536"])
        defer { daemon.stop() }
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 10)
        try client.put(Array("big".utf8), [UInt8](repeating: 0x61, count: 100_000))
        let current = { try client.stats().first { $0.name == "connections_current" }?.value }
        #expect(try current() == 1)
        let abuser = try RawConnection(unixPath: daemon.socketPath)
        abuser.send(Array(repeating: respCommand("GET", "big"), count: 500).flatMap { $0 })
        sleep(1)
        #expect(try current() == 2)
        // Shut both directions without closing: the daemon reads EOF and its sends fail (EPIPE) while
        // requests still wait for output room; it must finish them (dropping the replies) and close.
        shutdown(abuser.fd, Int32(SHUT_RDWR))
        #expect(try eventually { try current() == 1 }, "the daemon kept a connection whose peer is gone")
    }

    @Test("a client that half-closes after a pipeline bigger than the output limit still reads every reply, then EOF")
    func halfCloseAtTheOutputLimit() throws {
        let daemon = try Daemon(environment: ["SHMKV_LIMITS_MAX_OUTPUT_BUFFER": "65536"])
        defer { daemon.stop() }
        let value = String(repeating: "h", count: 100_000)
        let setup = try RawConnection(unixPath: daemon.socketPath)
        setup.send(respCommand("SET", "big", value))
        #expect(setup.read(5) == Array("+OK\r\n".utf8))
        let client = try RawConnection(unixPath: daemon.socketPath)
        client.send(Array(repeating: respCommand("GET", "big"), count: 300).flatMap { $0 })
        shutdown(client.fd, Int32(SHUT_WR))
        sleep(1)
        let reply = Array("$100000\r\n\(value)\r\n".utf8)
        for i in 0..<300 {
            guard client.read(reply.count) == reply else { Issue.record("reply \(i) missing after a half-close"); return }
        }
        let (rest, closed) = client.readUntilClosed()
        #expect(rest.isEmpty && closed)
    }

    @Test("a request larger than maxQueryBuffer closes its connection (counted), and no other")
    func queryBufferLimit() throws {
        let daemon = try Daemon(environment: ["SHMKV_LIMITS_MAX_VALUE_SIZE": "1024", "SHMKV_LIMITS_MAX_FRAME_SIZE": "65536",
                                              "SHMKV_LIMITS_MAX_QUERY_BUFFER": "131072"])
        defer { daemon.stop() }
        let bystander = try RawConnection(unixPath: daemon.socketPath)
        let before = memory(daemon.pid)
        let abuser = try RawConnection(unixPath: daemon.socketPath)
        // 100 arguments of 2,000 bytes: each is legal, the request (200 KB) cannot fit 128 KiB.
        var request = Array("*100\r\n".utf8)
        for _ in 0..<100 { request += Array("$2000\r\n".utf8) + [UInt8](repeating: 97, count: 2000) + Array("\r\n".utf8) }
        abuser.send(request)
        let (reply, closed) = abuser.readUntilClosed()
        #expect(closed)
        #expect(reply.isEmpty, "Redis closes such a client without a reply")
        bystander.send(respCommand("PING"))
        #expect(bystander.read(7) == Array("+PONG\r\n".utf8))
        #expect(try info(daemon, "client_query_buffer_limit_disconnections") == 1)
        let after = memory(daemon.pid)
        print("resident memory under a request past the 128 KiB query buffer: peak +\(after.peak - before.peak) KiB")
        #expect(after.peak - before.peak < 8 * 1024)
    }

    @Test("limits.idleTimeout closes a silent connection but not a subscriber")
    func idleTimeout() throws {
        let daemon = try Daemon(environment: ["SHMKV_LIMITS_IDLE_TIMEOUT": "1"])
        defer { daemon.stop() }
        let subscriber = try RawConnection(unixPath: daemon.socketPath)
        subscriber.send(respCommand("SUBSCRIBE", "news"))
        #expect(String(decoding: subscriber.readAvailable(), as: UTF8.self).hasSuffix(":1\r\n"))
        let silent = try RawConnection(unixPath: daemon.socketPath)
        silent.send(respCommand("PING"))
        #expect(silent.read(7) == Array("+PONG\r\n".utf8))
        let (_, closed) = silent.readUntilClosed()
        #expect(closed)
        subscriber.send(respCommand("PING"))
        #expect(String(decoding: subscriber.readAvailable(), as: UTF8.self).contains("pong"))
        #expect(try info(daemon, "idle_timeout_disconnections") == 1)
    }

    @Test("a subscriber that never reads is closed at limits.pubsubHardLimit, counted; writers are not slowed")
    func pubsubHardLimit() throws {
        let daemon = try Daemon(environment: ["SHMKV_LIMITS_PUBSUB_HARD_LIMIT": "262144", "SHMKV_LIMITS_PUBSUB_SOFT_LIMIT": "131072"])
        defer { daemon.stop() }
        let before = memory(daemon.pid)
        let subscriber = try RawConnection(unixPath: daemon.socketPath)
        subscriber.send(respCommand("PSUBSCRIBE", "__key*__:*"))
        #expect(!subscriber.read(10).isEmpty)
        let writer = try RawConnection(unixPath: daemon.socketPath)
        let key = String(repeating: "k", count: 200)
        for round in 0..<40 {
            let batch = (0..<500).flatMap { respCommand("SET", "\(key)\(round)-\($0)", "v") }
            writer.send(batch)
            #expect(writer.read(5 * 500).count == 5 * 500)
            if try info(daemon, "client_output_buffer_limit_disconnections") == 1 { break }
        }
        #expect(try info(daemon, "client_output_buffer_limit_disconnections") == 1)
        let (_, closed) = subscriber.readUntilClosed()
        #expect(closed)
        let after = memory(daemon.pid)
        print("resident memory while a subscriber did not read (hard limit 256 KiB): peak +\(after.peak - before.peak) KiB, with the 20,000 writes it was sent")
    }

    @Test("a native WATCH that stays over limits.pubsubSoftLimit for pubsubSoftSeconds is closed, counted")
    func pubsubSoftLimit() throws {
        let daemon = try Daemon(environment: ["SHMKV_LIMITS_PUBSUB_SOFT_LIMIT": "65536", "SHMKV_LIMITS_PUBSUB_SOFT_SECONDS": "1"])
        defer { daemon.stop() }
        let watcher = try RawConnection(unixPath: daemon.socketPath)
        watcher.send(Native.clientHello())
        #expect(watcher.read(Native.serverHelloSize).count == Native.serverHelloSize)
        watcher.send(Request.watch(prefix: [], from: 0).encoded(requestID: 1))
        #expect(watcher.read(Native.headerSize + 16).count == Native.headerSize + 16)
        // About 4 MB of events that the watcher never reads: far over the soft limit, under the hard one.
        let client = try Client(socketPath: daemon.socketPath, timeoutSeconds: 30)
        let key = String(repeating: "w", count: 400)
        for round in 0..<20 {
            try client.mput((0..<500).map { KeyValue(key: Array("\(key)\(round)-\($0)".utf8), value: [0x31]) })
        }
        let stats = { try client.stats().first { $0.name == "output_buffer_limit_disconnections" }?.value }
        #expect(try eventually(seconds: 15) { try stats() == 1 }, "the watcher was not closed")
        let (_, closed) = watcher.readUntilClosed()
        #expect(closed)
    }

    @Test("protected mode: no password on a non-loopback listener refuses to start, unless allowed")
    func protectedModeRefusesToStart() throws {
        #expect {
            _ = try Daemon(extraArguments: ["--listen", "0.0.0.0:0"])
        } throws: { "\($0)".contains("protected mode") && "\($0)".contains("auth.allowUnauthenticatedRemote") }
        let allowed = try Daemon(extraArguments: ["--listen", "0.0.0.0:0"], environment: ["SHMKV_AUTH_ALLOW_UNAUTHENTICATED_REMOTE": "yes"])
        allowed.stop()
        let withPassword = try Daemon(extraArguments: ["--listen", "0.0.0.0:0"], environment: ["SHMKV_AUTH_PASSWORD": "pw"])
        withPassword.stop()
    }

    @Test("protected mode: a peer from a non-loopback address gets Redis's -DENIED (in a network namespace of the test's own)")
    func deniedForRemotePeers() throws {
        // Inside a new network namespace: loopback up, a second address on it; the daemon listens on
        // 127.0.0.1 and a client connects from 10.99.0.1, so the daemon sees a peer that is not loopback.
        let dir = TemporaryDirectory("shmkv-netns")
        defer { dir.remove() }
        let script = """
            set -e
            ip link set lo up
            ip addr add 10.99.0.1/32 dev lo
            SHMKV_RING_PATH=\(dir.file("ring")) "$1" --data-dir \(dir.file("data")) --listen 127.0.0.1:7379 --socket none --log-level error > \(dir.file("ready")) &
            pid=$!
            for i in $(seq 100); do grep -q ready \(dir.file("ready")) 2>/dev/null && break; sleep 0.1; done
            python3 - <<'PY'
            import socket
            for source in ("10.99.0.1", "127.0.0.1"):
                s = socket.socket(); s.settimeout(10); s.bind((source, 0)); s.connect(("127.0.0.1", 7379))
                s.sendall(b"PING\\r\\n"); data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk or data.endswith(b"\\r\\n"): break
                    data += chunk
                    if data.endswith(b"\\r\\n"): break
                print(source, data.decode().strip()[:60])
            PY
            kill $pid; wait $pid || true
            """
        let result = try runProcess("/usr/bin/unshare", ["-n", "/bin/sh", "-c", script, "sh", Products.path("shmkvd")])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("10.99.0.1 -DENIED ShmKV is running in protected mode") }, "\(result.stdout)")
        #expect(lines.contains("127.0.0.1 +PONG"), "\(result.stdout)")
    }
}
