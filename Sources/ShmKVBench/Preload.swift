import ShmKV
import Wire

/// Stores every key of a run once (`options.keys` keys named as the run names them, values of
/// `options.valueSize` bytes), 1,000 per native MPUT or RESP MSET, so that its GETs hit.
public enum Preload {
    public static func run(_ options: BenchOptions, timeoutSeconds: Int) throws {
        var encoder = RequestEncoder(valueSize: options.valueSize, ttlSeconds: nil)
        func key(_ n: Int) -> [UInt8] {
            encoder.setKey(n)
            return encoder.key
        }
        switch options.wireProtocol {
        case .native:
            let client = try Client(address: options.address, timeoutSeconds: timeoutSeconds, credentials: options.credentials)
            defer { client.close() }
            for start in stride(from: 0, to: options.keys, by: 1000) {
                try client.mput((start..<min(start + 1000, options.keys)).map { KeyValue(key: key($0), value: encoder.value) })
            }
        case .resp:
            let client = try RESPClient(address: options.address, timeoutSeconds: timeoutSeconds, credentials: options.credentials)
            defer { client.close() }
            for start in stride(from: 0, to: options.keys, by: 1000) {
                var command = [Array("MSET".utf8)]
                for n in start..<min(start + 1000, options.keys) { command += [key(n), encoder.value] }
                if case .error(let message) = try client.command(command) { throw BenchError(message: "preload: \(message)") }
            }
        }
    }
}
