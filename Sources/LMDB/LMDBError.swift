import CLMDB

/// One case per `MDB_*` return code, plus `.system` for an errno that LMDB passed through.
///
/// `MDB_NOTFOUND` is not an error in this API: look-ups return `nil` instead. The case exists so that
/// the mapping is total and a caller that asks for it (for example a cursor step) can match it.
public enum LMDBError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `MDB_KEYEXIST`: a put with `.noOverwrite` found the key.
    case keyExists
    /// `MDB_NOTFOUND`: no such key or no more entries.
    case notFound
    /// `MDB_PAGE_NOTFOUND`: a page the tree points to is missing (damaged file).
    case pageNotFound
    /// `MDB_CORRUPTED`: a page has the wrong type (damaged file).
    case corrupted
    /// `MDB_PANIC`: an earlier fatal error; the environment must be reopened.
    case panic
    /// `MDB_VERSION_MISMATCH`: the files were made by an incompatible LMDB.
    case versionMismatch
    /// `MDB_INVALID`: the file is not an LMDB file.
    case invalid
    /// `MDB_MAP_FULL`: the map size is reached; the transaction must be aborted.
    case mapFull
    /// `MDB_DBS_FULL`: more named databases than `maxDatabases`.
    case databasesFull
    /// `MDB_READERS_FULL`: every reader slot is taken.
    case readersFull
    /// `MDB_TLS_FULL`: too many environments open in one thread.
    case tlsFull
    /// `MDB_TXN_FULL`: the transaction has too many dirty pages.
    case transactionFull
    /// `MDB_CURSOR_FULL`: the cursor stack is too deep (internal).
    case cursorFull
    /// `MDB_PAGE_FULL`: a page has no room (internal).
    case pageFull
    /// `MDB_MAP_RESIZED`: another process grew the map; set the map size to adopt it.
    case mapResized
    /// `MDB_INCOMPATIBLE`: the operation does not fit the database's flags.
    case incompatible
    /// `MDB_BAD_RSLOT`: a reader slot was reused wrongly (a read transaction on two threads).
    case badReaderSlot
    /// `MDB_BAD_TXN`: the transaction cannot be used any more (it failed before).
    case badTransaction
    /// `MDB_BAD_VALSIZE`: an empty key or one longer than the key limit, or a value too large.
    case badValueSize
    /// `MDB_BAD_DBI`: the database handle was closed or changed.
    case badDatabase
    /// An operating-system error number (ENOENT, EACCES, ENOMEM, …) returned by LMDB.
    case system(Int32)
    /// Refused by this layer before LMDB was asked (e.g. a second open of one path in one process).
    case refused(String)

    /// Maps an LMDB return code (non-zero) to its case.
    public init(code: Int32) {
        switch code {
        case MDB_KEYEXIST: self = .keyExists
        case MDB_NOTFOUND: self = .notFound
        case MDB_PAGE_NOTFOUND: self = .pageNotFound
        case MDB_CORRUPTED: self = .corrupted
        case MDB_PANIC: self = .panic
        case MDB_VERSION_MISMATCH: self = .versionMismatch
        case MDB_INVALID: self = .invalid
        case MDB_MAP_FULL: self = .mapFull
        case MDB_DBS_FULL: self = .databasesFull
        case MDB_READERS_FULL: self = .readersFull
        case MDB_TLS_FULL: self = .tlsFull
        case MDB_TXN_FULL: self = .transactionFull
        case MDB_CURSOR_FULL: self = .cursorFull
        case MDB_PAGE_FULL: self = .pageFull
        case MDB_MAP_RESIZED: self = .mapResized
        case MDB_INCOMPATIBLE: self = .incompatible
        case MDB_BAD_RSLOT: self = .badReaderSlot
        case MDB_BAD_TXN: self = .badTransaction
        case MDB_BAD_VALSIZE: self = .badValueSize
        case MDB_BAD_DBI: self = .badDatabase
        default: self = .system(code)
        }
    }

    /// The LMDB return code this case stands for (`nil` for `.refused`).
    public var code: Int32? {
        switch self {
        case .keyExists: MDB_KEYEXIST
        case .notFound: MDB_NOTFOUND
        case .pageNotFound: MDB_PAGE_NOTFOUND
        case .corrupted: MDB_CORRUPTED
        case .panic: MDB_PANIC
        case .versionMismatch: MDB_VERSION_MISMATCH
        case .invalid: MDB_INVALID
        case .mapFull: MDB_MAP_FULL
        case .databasesFull: MDB_DBS_FULL
        case .readersFull: MDB_READERS_FULL
        case .tlsFull: MDB_TLS_FULL
        case .transactionFull: MDB_TXN_FULL
        case .cursorFull: MDB_CURSOR_FULL
        case .pageFull: MDB_PAGE_FULL
        case .mapResized: MDB_MAP_RESIZED
        case .incompatible: MDB_INCOMPATIBLE
        case .badReaderSlot: MDB_BAD_RSLOT
        case .badTransaction: MDB_BAD_TXN
        case .badValueSize: MDB_BAD_VALSIZE
        case .badDatabase: MDB_BAD_DBI
        case .system(let errno): errno
        case .refused: nil
        }
    }

    /// LMDB's own message for the code (`mdb_strerror`), or the refusal's reason.
    public var description: String {
        switch self {
        case .refused(let reason): return reason
        default: return String(cString: mdb_strerror(code!))
        }
    }
}

/// Turns an LMDB return code into `Void` or a thrown `LMDBError`: the one place codes become errors.
@inline(__always)
func check(_ code: Int32) throws(LMDBError) {
    if code != 0 { throw LMDBError(code: code) }
}
