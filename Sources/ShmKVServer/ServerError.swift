import Posix

/// Why the daemon could not start or run.
public enum ServerError: Error, CustomStringConvertible, Sendable {
    /// Another daemon holds the data directory's pid lock (its pid, as the file says).
    case alreadyRunning(pid: String)
    /// A system call failed (the error names it).
    case system(SystemError)
    /// The data directory cannot be used (not a directory, owned by another user).
    case dataDirectory(String)
    /// A setting that can only be checked at start (a password file that cannot be read).
    case configuration(String)

    /// One line a person can act on, as the daemon logs it before exiting.
    public var description: String {
        switch self {
        case .alreadyRunning(let pid):
            "another shmkvd (pid \(pid.isEmpty ? "unknown" : pid)) is already running on this data directory"
        case .system(let error): "\(error)"
        case .dataDirectory(let why): why
        case .configuration(let why): why
        }
    }
}
