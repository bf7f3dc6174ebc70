import Reactor
import Testing

/// Loop-owned state is touched only on its loop's thread: debug builds (which `make test` builds) trap
/// when it is not.
@Suite struct LoopThreadTests {
    @Test("before the loop runs, and on its own thread, loop-owned state may be touched")
    func ownThreadIsAllowed() throws {
        let loop = try EventLoop()
        loop.schedule(afterMilliseconds: 0) {}
        loop.runOnce(timeoutMilliseconds: 0)
        loop.assertOnLoopThread()
        loop.schedule(afterMilliseconds: 0) {}
    }

    #if DEBUG
    @Test("a debug build traps when another thread touches a loop that has run")
    func anotherThreadTraps() async {
        // The same steps on the loop's own thread exit cleanly: the trap below is the thread check.
        await #expect(processExitsWith: .success) {
            let loop = try EventLoop()
            loop.runOnce(timeoutMilliseconds: 0)
            loop.schedule(afterMilliseconds: 0) {}
        }
        await #expect(processExitsWith: .failure) {
            let loop = try EventLoop()
            loop.runOnce(timeoutMilliseconds: 0)
            let other = try OSThread(name: "intruder") { loop.schedule(afterMilliseconds: 0) {} }
            other.join()
        }
    }
    #endif
}
