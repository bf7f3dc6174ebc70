import Foundation
import TestSupport
import Testing

/// Installation and running under systemd: `make install-files` lays out the binaries, the configuration
/// and the unit; the unit passes `systemd-analyze verify`; the installed daemon, started the way the unit
/// starts it, tells a service manager READY=1 once it serves and STOPPING=1 on SIGTERM.
@Suite struct ServiceTests {
    /// A Unix datagram socket standing in for systemd's `NOTIFY_SOCKET` (a path, or an abstract name when
    /// `abstract`), with a bounded receive.
    final class NotifyListener {
        let fd: Int32
        let name: String

        init(directory: TemporaryDirectory, abstract: Bool) throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            try #require(fd >= 0, "socket: errno \(errno)")
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes: [UInt8]
            if abstract {
                name = "@shmkv-test-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
                bytes = [0] + Array(name.utf8.dropFirst())
            } else {
                name = directory.file("notify.sock")
                bytes = Array(name.utf8) + [0]
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
            let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count - (abstract ? 0 : 1))
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
            }
            try #require(rc == 0, "bind \(name): errno \(errno)")
        }

        /// The next message, or nil when none comes within `seconds`.
        func receive(seconds: Int32 = 30) -> String? {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, seconds * 1000) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
        }

        deinit { close(fd) }
    }

    /// Lays the files out under a temporary PREFIX from the tests' own build.
    func install(into prefix: String) throws -> ProcessResult {
        try runProcess("/usr/bin/make", ["-s", "--no-print-directory", "install-files", "PREFIX=\(prefix)",
                                         "BIN_DIR=\(Products.directory)"])
    }

    @Test func installLaysOutBinariesConfigurationAndAUnitSystemdAccepts() throws {
        let directory = TemporaryDirectory("shmkv-install")
        defer { directory.remove() }
        let prefix = directory.file("opt/shmkv")
        let first = try install(into: prefix)
        try #require(first.status == 0, "make install-files: \(first.stderr)")
        let files = FileManager.default
        for (path, mode) in [("bin/shmkvd", 0o755), ("bin/shmkv", 0o755), ("etc/shmkv/shmkvd.yaml", 0o644),
                             ("lib/systemd/system/shmkvd.service", 0o644), ("share/doc/shmkv/README.md", 0o644)] {
            let attributes = try files.attributesOfItem(atPath: "\(prefix)/\(path)")
            #expect((attributes[.posixPermissions] as? Int) == mode, "\(path) has mode \(String(describing: attributes[.posixPermissions]))")
        }
        // Every relative link of the installed README leads to an installed file.
        let readme = try String(contentsOfFile: "\(prefix)/share/doc/shmkv/README.md", encoding: .utf8)
        let links = readme.matches(of: /\]\(([^)#:]+)(#[^)]*)?\)/).map { String($0.output.1) }
        #expect(links.count >= 10 && links.contains("docs/PROTOCOL.md"), "\(links)")
        for link in links {
            #expect(files.fileExists(atPath: "\(prefix)/share/doc/shmkv/\(link)"), "the installed README links \(link), which is not installed")
        }
        let installedConfig = try String(contentsOfFile: "\(prefix)/etc/shmkv/shmkvd.yaml", encoding: .utf8)
        #expect(installedConfig == (try String(contentsOfFile: "Config/shmkvd.yaml", encoding: .utf8)))
        let unit = try String(contentsOfFile: "\(prefix)/lib/systemd/system/shmkvd.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=\(prefix)/bin/shmkvd --config \(prefix)/etc/shmkv/shmkvd.yaml --data-dir /var/lib/shmkv\n"))
        #expect(unit.contains("Type=notify\n"))
        #expect(!unit.contains("/usr/local/"), "a path the install did not rewrite")

        // An edited configuration survives a second install; the new default goes beside it.
        try Data("dataDir: ./mine\n".utf8).write(to: URL(fileURLWithPath: "\(prefix)/etc/shmkv/shmkvd.yaml"))
        let second = try install(into: prefix)
        #expect(second.status == 0 && second.stdout.contains("kept"))
        #expect(try String(contentsOfFile: "\(prefix)/etc/shmkv/shmkvd.yaml", encoding: .utf8) == "dataDir: ./mine\n")
        #expect(files.fileExists(atPath: "\(prefix)/etc/shmkv/shmkvd.yaml.default"))

        // systemd's own checker: exit 0 and not a single warning (unknown keys only warn).
        let analyze = "/usr/bin/systemd-analyze"
        if files.isExecutableFile(atPath: analyze) {
            let verify = try runProcess(analyze, ["verify", "\(prefix)/lib/systemd/system/shmkvd.service"])
            #expect(verify.status == 0 && verify.stdout.isEmpty && verify.stderr.isEmpty,
                    "systemd-analyze verify: \(verify.stdout)\(verify.stderr)")
        } else {
            print("ServiceTests: \(analyze) is not installed; the unit was not verified")
        }

        let uninstall = try runProcess("/usr/bin/make", ["-s", "--no-print-directory", "uninstall", "PREFIX=\(prefix)"])
        #expect(uninstall.status == 0)
        #expect(!files.fileExists(atPath: "\(prefix)/bin/shmkvd") && !files.fileExists(atPath: "\(prefix)/lib/systemd/system/shmkvd.service"))
        #expect(files.fileExists(atPath: "\(prefix)/etc/shmkv/shmkvd.yaml"), "uninstall removed the configuration")
    }

    @Test(arguments: [false, true])
    func installedDaemonNotifiesReadyWhenServingAndStoppingOnSIGTERM(abstractSocket: Bool) throws {
        let directory = TemporaryDirectory("shmkv-service")
        defer { directory.remove() }
        let prefix = directory.file("prefix")
        let installed = try install(into: prefix)
        try #require(installed.status == 0, "make install-files: \(installed.stderr)")
        let listener = try NotifyListener(directory: directory, abstract: abstractSocket)

        // The unit's command line, with the state directory and the TCP port made the test's own.
        let unit = try String(contentsOfFile: "\(prefix)/lib/systemd/system/shmkvd.service", encoding: .utf8)
        let execStart = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        var command = execStart.dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
        let dataIndex = try #require(command.firstIndex(of: "/var/lib/shmkv"))
        command[dataIndex] = directory.file("state")
        let daemon = try ChildProcess(command[0], Array(command.dropFirst()) + ["--listen", "127.0.0.1:0"],
                                      environment: ["NOTIFY_SOCKET": listener.name,
                                                    "SHMKV_RING_PATH": directory.file("shmkvd.ring")])
        guard let ready = listener.receive() else {
            daemon.signal(SIGKILL)
            _ = daemon.wait()
            Issue.record("no READY=1 within 30 s; shmkvd said: \(daemon.stderrText())")
            return
        }
        let fields = ready.split(separator: "\n").map(String.init)
        #expect(fields.contains("READY=1"))
        #expect(fields.contains("MAINPID=\(daemon.pid)"))
        let socketPath = directory.file("state/shmkvd.sock")
        #expect(fields.contains { $0.hasPrefix("STATUS=serving on") && $0.contains("unix:\(socketPath)") })

        // Ready means serving: the installed CLI gets an answer at once.
        let ping = try runProcess("\(prefix)/bin/shmkv", ["ping", "--socket", socketPath])
        #expect(ping.status == 0 && ping.stdout == "PONG\n", "\(ping.stderr)")

        daemon.signal(SIGTERM)
        let stopping = try #require(listener.receive(), "no STOPPING=1 within 30 s")
        #expect(stopping.split(separator: "\n").contains("STOPPING=1"))
        #expect(daemon.wait() == 0)
    }
}
