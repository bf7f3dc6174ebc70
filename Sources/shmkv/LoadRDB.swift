import ArgumentParser
import Foundation
import ShmKV

extension Load {
    /// `shmkv load --rdb FILE`: checks the file's checksum first (a regular file: nothing of a damaged
    /// file is stored), then RESTOREs every key through the daemon (`RDBLoader`), with progress and a
    /// summary per database and type; refusals are listed. With --data-dir and no daemon running there,
    /// a daemon is started on it for the load and stopped after.
    func loadRDB(_ path: String) throws {
        let fd = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ValidationError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { if fd != 0 { close(fd) } }
        var size = 0
        if fd != 0 {
            var info = stat()
            if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG {
                size = Int(info.st_size)
                if let problem = try RDBFile.verify(fd: fd) {
                    Display.error("\(path): \(problem); nothing was loaded")
                    throw ExitCode(ExitStatus.serverOrConnection)
                }
                lseek(fd, 0, SEEK_SET)
            }
        }
        var started: TransientDaemon?
        var address = connection.address
        if let dataDir {
            // The daemon's default socket, where one runs there; the one a started daemon is given.
            let socket = dataDir + "/shmkvd.sock"
            address = .unix(path: socket)
            if LocalStore.runningDaemon(in: dataDir) == nil {
                started = try TransientDaemon(dataDirectory: dataDir, socketPath: socket)
                Display.error("started shmkvd on \(dataDir) for the load")
            }
        }
        defer { started?.stop() }
        var line = ProgressLine(forced: progress)
        let summary: RDBLoadSummary
        do {
            let client = try RESPClient(address: address, timeoutSeconds: connection.timeout, credentials: try connection.credentials())
            defer { client.close() }
            var loader = RDBLoader(client: client, batch: batch)
            summary = try loader.load(fd: fd) { now in
                line.update("load: \(now.keys.total) keys, \(ProgressLine.bytes(now.bytes))" + (size > 0 ? " of \(ProgressLine.bytes(size))" : ""))
            }
        } catch let error as RDBLoadError {
            Display.error("\(path): \(error.reason) (\(error.summary.keys.total) keys stored before it)")
            throw ExitCode(ExitStatus.serverOrConnection)
        } catch let error as ShmKVError {
            Display.error("\(error)")
            throw ExitCode(ExitStatus.serverOrConnection)
        }
        report(summary, line: line)
        if summary.failed > 0 { throw ExitCode(ExitStatus.serverOrConnection) }
    }

    private func report(_ summary: RDBLoadSummary, line: ProgressLine) {
        for refusal in summary.refused.prefix(20) {
            let key = refusal.key.isEmpty ? "" : " key \(String(decoding: refusal.key, as: UTF8.self).debugDescription)"
            Display.error("refused: \(refusal.database >= 0 ? "db \(refusal.database)" : "file")\(key): \(refusal.what) (offset \(refusal.offset))")
        }
        if summary.refused.count > 20 { Display.error("refused: … and \(summary.refused.count - 20) more") }
        for failure in summary.failures { Display.error("error reply: \(failure)") }
        let seconds = Date().timeIntervalSince(line.started)
        line.finish("loaded \(summary.keys.total) keys (\(summary.keys))"
                    + (summary.functions > 0 ? ", \(summary.functions) function libraries" : "")
                    + (summary.expired > 0 ? ", left out \(summary.expired) whose deadline had passed" : "")
                    + (summary.refused.isEmpty ? "" : ", refused \(summary.refused.count)")
                    + (summary.failed > 0 ? ", \(summary.failed) failed" : "")
                    + ", \(ProgressLine.bytes(summary.bytes)) at \(String(format: "%.1f", Double(summary.bytes) / 1_048_576 / max(seconds, 0.001))) MiB/s")
        if connection.json {
            Display.printJSON([
                "format": "rdb", "loaded": summary.keys.total, "expired_skipped": summary.expired, "functions": summary.functions,
                "failed": summary.failed, "bytes": summary.bytes, "seconds": seconds,
                "databases": Dictionary(uniqueKeysWithValues: summary.keys.byDatabase.map { (String($0.key), $0.value) }),
                "refused": summary.refused.map { ["db": $0.database, "key": Display.json($0.key), "what": $0.what, "offset": $0.offset] as [String: Any] },
            ])
        }
    }
}

/// A shmkvd started on a data directory for one command (no daemon ran there), on its own Unix
/// socket, with no TCP listener; stopped (SIGTERM: every write committed) by `stop`.
final class TransientDaemon {
    let process = Process()
    let socketPath: String

    init(dataDirectory: String, socketPath: String) throws {
        self.socketPath = socketPath
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let candidates = [here + "/shmkvd"] + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/shmkvd" }
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ValidationError("no daemon runs on \(dataDirectory), and no shmkvd was found beside shmkv or on PATH to start one")
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--data-dir", dataDirectory, "--socket", socketPath, "--no-tcp", "--log-level", "warning"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<600 {
            if !process.isRunning { throw ValidationError("shmkvd on \(dataDirectory) exited (status \(process.terminationStatus)) before it served") }
            if let client = try? RESPClient(address: .unix(path: socketPath), timeoutSeconds: 1) {
                defer { client.close() }
                if (try? client.command([Array("PING".utf8)])) == .simple("PONG") { return }
            }
            usleep(50_000)
        }
        stop()
        throw ValidationError("shmkvd on \(dataDirectory) did not answer within 30 s")
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
