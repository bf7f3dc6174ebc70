import Posix
import Wire

/// A connected socket to a daemon, handed to a caller that drives it itself (a load generator with
/// its own event loop: `shmkv bench`), with AUTH done when credentials are given (and, for the native
/// protocol, the handshake).
public enum RawSocket {
    /// Connects to `address`; performs the native handshake when `native`, and with `credentials` AUTH
    /// in that protocol, as `Client` and `RESPClient` do. The descriptor is the caller's: a blocking
    /// socket, with no timeouts set.
    public static func open(address: ServerAddress, native: Bool, credentials: Credentials?) throws(ShmKVError) -> Descriptor {
        if native {
            return try ClientSocket.open(address: address, timeoutSeconds: 10, credentials: credentials).takeDescriptorClearingTimeouts()
        }
        var socket = try ClientSocket.connected(address: address, timeoutSeconds: 10)
        if let credentials { try socket.authenticateRESP(credentials) }
        return socket.takeDescriptorClearingTimeouts()
    }
}

extension ClientSocket {
    /// The descriptor, with the send and receive timeouts the handshake used taken off.
    consuming func takeDescriptorClearingTimeouts() -> Descriptor {
        let descriptor = takeDescriptor()
        var none = timeval()
        setsockopt(descriptor.rawValue, SOL_SOCKET, SO_RCVTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor.rawValue, SOL_SOCKET, SO_SNDTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
        return descriptor
    }
}
#if canImport(Glibc)
import Glibc
#endif
