/// Native request opcodes.
public enum Opcode: UInt8, Sendable, CaseIterable {
    case ping = 0x01
    case get = 0x02
    case mget = 0x03
    case put = 0x04
    case delete = 0x05
    case mput = 0x06
    case scan = 0x07
    case incrBy = 0x08
    case stats = 0x09
    /// Streams change events from the notification ring (the connection then carries events).
    case watch = 0x0A
    /// Authenticates the connection as a user (empty name: `default`) with a password.
    case auth = 0x0B
}

/// Reply status, shared by server and client.
public enum Status: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case ok = 0
    case notFound = 1
    /// A PUT's if-absent / if-present condition did not hold.
    case conditionFailed = 2
    case badRequest = 3
    case unknownOpcode = 4
    /// Empty key, or longer than the store's maximum (511 bytes).
    case invalidKey = 5
    case valueTooLarge = 6
    case frameTooLarge = 7
    /// INCRBY on a value that is not a decimal 64-bit integer.
    case notInteger = 8
    /// INCRBY would overflow a signed 64-bit integer.
    case overflow = 9
    /// LMDB refused the operation; the message says why.
    case storageError = 10
    case shuttingDown = 11
    case tooManyClients = 12
    case unsupportedVersion = 13
    case internalError = 14
    /// The daemon requires AUTH first (RESP: NOAUTH).
    case authRequired = 15
    /// Wrong user name or password (RESP: WRONGPASS).
    case authFailed = 16
    /// The user may not run this request or touch this key (RESP: NOPERM).
    case permissionDenied = 17
    /// Protected mode: a remote peer of a daemon without a password (RESP: DENIED); in the server hello.
    case denied = 18

    /// Whether the reply body is an error message (u16 length + UTF-8) rather than a result.
    public var carriesMessage: Bool {
        switch self {
        case .ok, .notFound, .conditionFailed: false
        default: true
        }
    }

    public var description: String {
        switch self {
        case .ok: "OK"
        case .notFound: "NOT_FOUND"
        case .conditionFailed: "CONDITION_FAILED"
        case .badRequest: "BAD_REQUEST"
        case .unknownOpcode: "UNKNOWN_OPCODE"
        case .invalidKey: "INVALID_KEY"
        case .valueTooLarge: "VALUE_TOO_LARGE"
        case .frameTooLarge: "FRAME_TOO_LARGE"
        case .notInteger: "NOT_INTEGER"
        case .overflow: "OVERFLOW"
        case .storageError: "STORAGE_ERROR"
        case .shuttingDown: "SHUTTING_DOWN"
        case .tooManyClients: "TOO_MANY_CLIENTS"
        case .unsupportedVersion: "UNSUPPORTED_VERSION"
        case .internalError: "INTERNAL_ERROR"
        case .authRequired: "AUTH_REQUIRED"
        case .authFailed: "AUTH_FAILED"
        case .permissionDenied: "PERMISSION_DENIED"
        case .denied: "DENIED"
        }
    }
}

/// PUT's condition, carried in the frame's flags byte.
public enum PutCondition: UInt8, Sendable {
    case always = 0
    /// Store only if the key is absent (like Redis `SET NX`).
    case ifAbsent = 1
    /// Store only if the key is present (like Redis `SET XX`).
    case ifPresent = 2
}

/// SCAN's mode, carried in the frame's flags byte.
public enum ScanMode: UInt8, Sendable {
    /// Keys that start with the first key field.
    case prefix = 0
    /// Keys with first ≤ key < second (second empty: no upper bound).
    case range = 1
}
