import LMDB

/// A key holds another type than the one asked for (Redis's WRONGTYPE).
public struct WrongTypeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The type the key holds.
    public let found: KeyType
    public init(found: KeyType) { self.found = found }
    /// Redis's error line.
    public static let message = "WRONGTYPE Operation against a key holding the wrong kind of value"
    public var description: String { WrongTypeError.message }
}

/// A record that does not decode as its layout says (a damaged store, or a newer format).
public struct DamagedRecord: Error, Sendable, Equatable, CustomStringConvertible {
    public let what: String
    public init(_ what: String) { self.what = what }
    public var description: String { "damaged record: \(what)" }
}

/// Types and collections, as `KeyspaceReader` reads them: a key that is not in `kv` may be in `__types`.
extension KeyspaceReader {
    /// The type of the live `key`, or nil for none.
    public func type(of key: UnsafeRawBufferPointer) throws -> KeyType? {
        if try withValue(key, { $0 != nil }) { return .string }
        return try collectionType(of: key)
    }

    /// The type of the live collection `key` holds, from its header alone; nil for none (or a string).
    public func collectionType(of key: UnsafeRawBufferPointer) throws -> KeyType? {
        guard hasCollections, let types = databases.types else { return nil }
        return try transaction.withValue(types, key: key) { record in
            guard let record, try !isExpired(key) else { return nil }
            guard let header = CollectionHeader(record) else { throw DamagedRecord("the __types record of a key") }
            return header.type
        }
    }

    /// Calls `body` with the live collection `key` holds, or nil (none, or a string). Valid only inside it.
    public func withCollection<R>(_ key: UnsafeRawBufferPointer, _ body: (CollectionView?) throws -> R) throws -> R {
        guard hasCollections, let types = databases.types, let elements = databases.elements else { return try body(nil) }
        return try transaction.withValue(types, key: key) { record in
            guard let record, try !isExpired(key) else { return try body(nil) }
            return try body(try CollectionView(record, transaction, elements))
        }
    }

    /// Calls `body` with the live collection of `type` that `key` holds, or nil when the key does not
    /// live; throws `WrongTypeError` when it holds anything else (a string or another collection).
    public func withCollection<R>(_ key: UnsafeRawBufferPointer, as type: KeyType,
                                  _ body: (CollectionView?) throws -> R) throws -> R {
        try withCollection(key) { view in
            if let view {
                guard view.type == type else { throw WrongTypeError(found: view.type) }
                return try body(view)
            }
            if try withValue(key, { $0 != nil }) { throw WrongTypeError(found: .string) }
            return try body(nil)
        }
    }

    /// Each live key (strings and collections) starting with `prefix`, in key order, after `after` when
    /// given, with its type.
    public func forEachKey(prefix: [UInt8], after: [UInt8]? = nil,
                           _ body: (UnsafeRawBufferPointer, KeyType) throws -> IterationControl) throws {
        guard hasCollections, let types = databases.types else {
            return try forEach(prefix: prefix, after: after) { key, _ in try body(key, .string) }
        }
        // Two cursors in key order, merged (a key is in one database only).
        let strings = try transaction.cursor(databases.keyspace), collections = try transaction.cursor(types)
        defer {
            strings.close()
            collections.close()
        }
        func start(_ cursor: Cursor) throws -> Bool {
            let lower = after.map { prefix.lexicographicallyPrecedes($0) ? $0 : prefix } ?? prefix
            var found = lower.isEmpty ? try cursor.first() : try cursor.seek(atLeast: lower)
            if found, let after, try cursor.keyEquals(after) { found = try cursor.next() }
            return found && cursor.withCurrent { key, _ in key.starts(with: prefix) }
        }
        var stringAt = try start(strings), collectionAt = try start(collections)
        while stringAt || collectionAt {
            let takeString = stringAt && (!collectionAt || strings.withCurrent { s, _ in
                collections.withCurrent { c, _ in s.lexicographicallyPrecedes(c) }
            })
            let cursor = takeString ? strings : collections
            let control = try cursor.withCurrent { key, value -> IterationControl in
                if try isExpired(key) { return .proceed }
                guard !takeString else { return try body(key, .string) }
                guard let header = CollectionHeader(value) else { throw DamagedRecord("the __types record of a key") }
                return try body(key, header.type)
            }
            guard control == .proceed else { return }
            let more = try cursor.next() && cursor.withCurrent { key, _ in key.starts(with: prefix) }
            if takeString { stringAt = more } else { collectionAt = more }
        }
    }
}
