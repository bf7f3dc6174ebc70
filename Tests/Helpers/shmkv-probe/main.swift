// A second process for the tests: opens an LMDB environment read-only with our LMDB layer and prints
// what it finds, so that a test can prove another process reads what the first one wrote.
//
//   shmkv-probe get DIR DB KEY     prints the value as hex, or "absent"; exit 0
//   shmkv-probe count DIR DB       prints the number of entries
//   shmkv-probe hold DIR DB        begins a read transaction, prints "holding", sleeps until killed
//   shmkv-probe grow DIR DB MIB    opens read-write with a 64 MiB map and writes MIB mebibytes
//   shmkv-probe ring-publish PATH COUNT CAPACITY BATCH    (see Ring.swift)
//   shmkv-probe ring-subscribe PATH LAST
//   shmkv-probe local-get DIR KEY | local-watch DIR PREFIX COUNT | local-hold DIR | local-read-loop DIR
//                                                                                  (see Local.swift)
import LMDB

#if canImport(Glibc)
import Glibc
#endif

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
}

let args = CommandLine.arguments
if args.count >= 3, args[1].hasPrefix("local-") {
    do {
        switch args[1] {
        case "local-get" where args.count == 4: try localGet(directory: args[2], key: args[3])
        case "local-watch" where args.count == 5: try localWatch(directory: args[2], prefix: args[3], count: Int(args[4]) ?? 1)
        case "local-hold": try localHold(directory: args[2])
        case "local-read-loop": try localReadLoop(directory: args[2])
        default: say("unknown command"); exit(64)
        }
        exit(0)
    } catch {
        say("error: \(error)")
        exit(1)
    }
}
guard args.count >= 4 else {
    print("usage: shmkv-probe get DIR DB KEY | count DIR DB")
    exit(64)
}
do {
    if args[1] == "ring-publish", args.count == 6, let count = Int(args[3]), let capacity = Int(args[4]), let batch = Int(args[5]) {
        try ringPublish(path: args[2], count: count, capacity: capacity, batch: batch)
        exit(0)
    }
    if args[1] == "ring-subscribe", let last = UInt64(args[3]) {
        exit(try ringSubscribe(path: args[2], last: last))
    }
    if args[1] == "grow", args.count >= 5, let mebibytes = Int(args[4]) {
        let mapMiB = args.count == 6 ? Int(args[5]) ?? 64 : 64
        let env = try Environment(path: args[2], options: .init(mapSize: mapMiB << 20, maxDatabases: 8))
        let db = try env.openDatabase(named: args[3], create: true)
        let chunk = [UInt8](repeating: 0x47, count: 64 * 1024)
        try env.write { txn in
            for i in 0..<(mebibytes * 16) { try txn.put(db, key: Array("grow-\(i)".utf8), value: chunk) }
        }
        print(try env.info().mapSize)
        env.close()
        exit(0)
    }
    let env = try Environment(path: args[2], options: .init(flags: [.readOnly], maxDatabases: 8))
    let db = try env.openDatabase(named: args[3])
    switch args[1] {
    case "get" where args.count == 5:
        let value = try env.read { try $0.get(db, key: Array(args[4].utf8)) }
        print(value.map(hex) ?? "absent")
    case "count":
        print(try env.stat(db).entries)
    case "hold":
        let txn = try env.beginRead()
        _ = try txn.stat(db)
        // Unbuffered, so the test sees it while this process sleeps.
        _ = Array("holding\n".utf8).withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        while true { sleep(60) }
    default:
        print("unknown command")
        exit(64)
    }
    env.close()
} catch {
    print("error: \(error)")
    exit(1)
}
