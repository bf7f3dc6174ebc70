import Foundation

/// What a finished child process did.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public let stdoutBytes: [UInt8]
}

/// A child process that did not finish within its time bound (it was killed).
public struct ProcessTimedOut: Error, CustomStringConvertible {
    public let command: String
    public let seconds: Int
    public let stdout: String
    public let stderr: String
    public var description: String {
        "\(command) did not finish within \(seconds) s (killed); stdout so far: \(stdout.suffix(500)) stderr: \(stderr.suffix(500))"
    }
}

/// Runs an executable to completion with optional stdin bytes, capturing its output. The run is bounded:
/// a child still running after `timeoutSeconds` is killed and `ProcessTimedOut` (naming the command) is
/// thrown, so a child that waits for ever fails its test instead of hanging the suite.
@discardableResult
public func runProcess(_ executable: String, _ arguments: [String], stdin: [UInt8]? = nil,
                       environment: [String: String]? = nil, currentDirectory: String? = nil,
                       timeoutSeconds: Int = 120) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.runWithSignalsUnblocked()
    if let stdin { input.fileHandleForWriting.write(Data(stdin)) }
    try input.fileHandleForWriting.close()
    // Read both pipes to the end on their own threads, so a chatty child cannot block on a full pipe
    // and this thread can give up at the deadline.
    let group = DispatchGroup()
    nonisolated(unsafe) var errData = Data()
    nonisolated(unsafe) var outData = Data()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    group.enter()
    DispatchQueue.global().async {
        outData = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    if group.wait(timeout: .now() + .seconds(timeoutSeconds)) == .timedOut {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = group.wait(timeout: .now() + .seconds(5))
        let command = ([(executable as NSString).lastPathComponent] + arguments).joined(separator: " ")
        throw ProcessTimedOut(command: command, seconds: timeoutSeconds, stdout: String(decoding: outData, as: UTF8.self),
                              stderr: String(decoding: errData, as: UTF8.self))
    }
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self),
                         stdoutBytes: Array(outData))
}

extension Process {
    /// `run()` with no signal blocked in the child. A child inherits the spawning thread's signal mask,
    /// and the test runner's threads block most signals: a child that relies on SIGTERM to stop (a
    /// Celery worker, redis-server) would otherwise ignore it.
    public func runWithSignalsUnblocked() throws {
        var none = sigset_t(), saved = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try run()
    }
}
