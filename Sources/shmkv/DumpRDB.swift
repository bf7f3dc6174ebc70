import ArgumentParser
import Foundation
import ShmKV

extension Dump {
    /// `shmkv dump --rdb FILE`: the whole store from one LocalStore snapshot, as an RDB file, written
    /// beside FILE and renamed onto it once complete (a reader never sees half a file).
    func dumpRDB(_ path: String) throws {
        let store = try localOptions.open(for: connection, purpose: "dumping")
        let partial = path == "-" ? nil : path + ".partial"
        let fd = partial.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) } ?? 1
        guard fd >= 0 else { throw ValidationError("cannot write \(partial!): \(String(cString: strerror(errno)))") }
        var line = ProgressLine(forced: progress)
        let summary: RDBDumpSummary
        do {
            summary = try store.writeRDB(to: fd) { now in line.update("dump: \(now.keys.total) keys, \(ProgressLine.bytes(now.bytes))") }
            if let partial {
                guard fsync(fd) == 0, close(fd) == 0, rename(partial, path) == 0 else {
                    throw ShmKVError.file("writing \(path): \(String(cString: strerror(errno)))")
                }
            }
        } catch {
            if let partial { close(fd); unlink(partial) }
            Display.error("\(error)")
            throw ExitCode(ExitStatus.serverOrConnection)
        }
        line.finish("dumped \(summary.keys.total) keys (\(summary.keys))"
                    + (summary.functions > 0 ? ", \(summary.functions) function libraries" : "")
                    + " from \(store.directory) to \(path), \(ProgressLine.bytes(summary.bytes))")
        if connection.json {
            Display.printJSON(["format": "rdb", "dumped": summary.keys.total, "functions": summary.functions, "bytes": summary.bytes,
                               "databases": Dictionary(uniqueKeysWithValues: summary.keys.byDatabase.map { (String($0.key), $0.value) })])
        }
    }
}
