import Foundation
import ShmKV
import TestSupport
import Testing

/// `DaemonStore`: a daemon says which store it serves, and a directory is checked against it.
@Suite struct DaemonStoreTests {
    @Test("a daemon names its directory (absolute) and ring epoch; its own store passes the check, another's is refused")
    func askAndCheck() throws {
        let a = try Daemon()
        defer { a.stop() }
        let b = try Daemon()
        defer { b.stop() }
        let served = try DaemonStore.ask(.tcp(host: a.tcpHost, port: a.tcpPort), timeoutSeconds: 10)
        #expect(served.directory == URL(fileURLWithPath: a.dataDirectory).resolvingSymlinksInPath().path)
        let own = try LocalStore(directory: a.dataDirectory)
        let recorded = try own.statistics().ringEpoch
        #expect(served.ringEpoch != 0 && served.ringEpoch == recorded)
        try served.check(own)
        do {
            let other = try LocalStore(directory: b.dataDirectory)
            #expect(throws: ShmKVError.self) { try served.check(other) }
        }
        let opened = try DaemonStore.ask(.unix(path: b.socketPath), timeoutSeconds: 10).open()
        #expect(opened.directory == URL(fileURLWithPath: b.dataDirectory).resolvingSymlinksInPath().path)
    }

    @Test("a RESP server that is not shmkvd is told apart, and an unreachable one is a connection error")
    func notShmKVD() throws {
        let redis = try RedisServer()
        #expect {
            _ = try DaemonStore.ask(.unix(path: redis.socketPath), timeoutSeconds: 10)
        } throws: { "\($0)".contains("is not shmkvd") }
        #expect {
            _ = try DaemonStore.ask(.tcp(host: "127.0.0.1", port: 1), timeoutSeconds: 10)
        } throws: { if case .connection = $0 as? ShmKVError { true } else { false } }
    }
}
