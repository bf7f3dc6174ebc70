#if canImport(Glibc)
import Glibc
#endif
import CShim
import Posix

/// A joinable OS thread running a closure (pthread, so that reactors and the writer are real threads
/// with names visible in `top -H`).
public final class OSThread: @unchecked Sendable {
    // Invariant: `thread` is written once in `init` before any other thread can see this object, and
    // read only by `join()`, which callers invoke once from one thread.
    private var thread = pthread_t()

    private final class Box {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) { self.name = name; self.body = body }
    }

    /// Starts `body` on a new thread named `name` (cut to 15 bytes, the kernel's limit).
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            shim_set_thread_name(String(box.name.utf8.prefix(15))!)
            box.body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError(call: "pthread_create", errno: Errno(rawValue: rc))
        }
    }

    /// Waits for the thread to finish.
    public func join() { pthread_join(thread, nil) }
}
