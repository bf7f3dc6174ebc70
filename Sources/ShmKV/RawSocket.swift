import Posix
import Wire

/// A connected socket to a daemon, handed to a caller that drives it itself (a load generator with
/// its own event loop: `shmkv bench`). Native: the handshake and AUTH are done; RESP: nothing was sent.
public enum RawSocket {
    /// Connects to `address`; for the native protocol performs the handshake and, with `credentials`,
    /// AUTH. The descriptor is the caller's: a blocking socket, with no timeouts set.
    public static func open(address: ServerAddress, native: Bool, credentials: Credentials?) throws(ShmKVError) -> Descriptor {
        if native {
            return try ClientSocket.open(address: address, timeoutSeconds: 10, credentials: credentials).takeDescriptorClearingTimeouts()
        }
        return try ClientSocket.connected(address: address, timeoutSeconds: 0).takeDescriptor()
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
