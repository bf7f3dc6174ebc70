// The async client from a plain async `main`: no web framework, just Swift concurrency.
//
//   swift run async-client-example [SOCKET]     (default: ./data/shmkvd.sock, the daemon's default)
//
// 200 tasks write and read their own keys at once over a pool of 4 connections (the client pipelines
// the calls that meet on one connection), a counter sums them, a scan lists them, and a task that is
// cancelled gives up at once.
import ShmKV

let socketPath = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "./data/shmkvd.sock"
let client = AsyncClient(address: .unix(path: socketPath), connections: 4, timeoutSeconds: 10)
defer { client.close() }

do {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<200 {
            group.addTask {
                try await client.put("async:\(i)", "value \(i)")
                guard try await client.get("async:\(i)") == Array("value \(i)".utf8) else { fatalError("read back the wrong value") }
                try await client.incr(Array("async:count".utf8))
            }
        }
        try await group.waitForAll()
    }
    let count = String(decoding: try await client.get("async:count") ?? [], as: UTF8.self)
    print("200 tasks done; async:count =", count)

    var listed = 0
    for try await _ in client.scan(prefix: Array("async:".utf8)) { listed += 1 }
    print("scan listed \(listed) keys under async:")

    let slow = Task { try await client.stats() }
    slow.cancel()
    switch await slow.result {
    case .success: print("stats finished before the cancellation reached it")
    case .failure(let error): print("cancelled task ended with", error is CancellationError ? "CancellationError" : "\(error)")
    }
} catch {
    print("error:", error)
}
