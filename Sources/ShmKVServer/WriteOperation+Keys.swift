import LMDB
import NotifyRing
import StoreLayout
import Wire

/// The writer's side of SETRANGE, INCRBYFLOAT, RENAME/RENAMENX and COPY, with Redis's rules.
extension KeyspaceWriter {
    /// SETRANGE: overwrites from `offset`, padding with zero bytes; the new length. An empty `value`
    /// changes nothing (and creates no key) and answers the current length.
    mutating func setRange(_ key: UnsafeRawBufferPointer, offset: Int, _ value: UnsafeRawBufferPointer, maxValueSize: Int) throws -> WriteOutcome {
        let end = offset + value.count
        let fits = value.isEmpty || end <= maxValueSize
        return try withValueCopy(key, extra: { fits ? max(0, end - $0) : 0 }) { keys, buffer, old in
            guard !value.isEmpty else { return .integer(Int64(old ?? 0)) }
            guard fits else { return .failed(.valueTooLarge, "string exceeds maximum allowed size (proto-max-bulk-len)") }
            let count = old ?? 0
            if offset > count { UnsafeMutableRawBufferPointer(rebasing: buffer[count..<offset]).initializeMemory(as: UInt8.self, repeating: 0) }
            UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<end]).copyMemory(from: value)
            try keys.store(key, UnsafeRawBufferPointer(buffer), existed: old != nil, deadline: .keep, event: .setrange)
            return .integer(Int64(buffer.count))
        }
    }

    /// INCRBYFLOAT: the new value as a bulk string (`previous`), Redis's long double arithmetic.
    mutating func incrByFloat(_ key: UnsafeRawBufferPointer, _ increment: Float80) throws -> WriteOutcome {
        let old = try value(key)
        var current: Float80 = 0
        if let old {
            guard let parsed = RedisFloat.parse(old) else { return .failed(.badRequest, "value is not a valid float") }
            current = parsed
        }
        let sum = current + increment
        guard sum.isFinite else { return .failed(.badRequest, "increment would produce NaN or Infinity") }
        let text = RedisFloat.format(sum)
        try text.withUnsafeBytes { try store(key, $0, existed: old != nil, deadline: .keep, event: .incrbyfloat) }
        return .previous(text, stored: true)
    }

    /// RENAME and RENAMENX: the value (of any type) and its deadline move to `target` (replacing what was
    /// there unless `onlyIfAbsent`). Events as Redis: `rename_from` on the source, then `rename_to` on the
    /// target. A large collection moves as its record alone: its elements stay under its id.
    mutating func rename(_ source: UnsafeRawBufferPointer, to target: UnsafeRawBufferPointer, onlyIfAbsent: Bool) throws -> WriteOutcome {
        guard let type = try type(of: source) else { return .failed(.notFound, "no such key") }
        if source.elementsEqual(target) { return onlyIfAbsent ? .integer(0) : .stored }
        if onlyIfAbsent, try exists(target) { return .integer(0) }
        let deadline = try deadline(source)
        return try withPayload(source, type) { keys, payload in
            try keys.takeOut(source, type, event: .renameFrom)
            try keys.place(target, type, payload, deadline: deadline, event: .renameTo)
            return onlyIfAbsent ? .integer(1) : .stored
        }
    }

    /// COPY: 1 if `target` (in numbered database `database`, nil: the selected one) now holds the
    /// source's value (of any type) and deadline; 0 if the source is absent or the target exists and
    /// `replace` is false. Event `copy_to` on the target. A large collection's elements are copied
    /// under a new id.
    mutating func copy(_ source: UnsafeRawBufferPointer, to target: UnsafeRawBufferPointer, replace: Bool, database: Int? = nil) throws -> WriteOutcome {
        let here = self.database, there = database ?? self.database
        if there == here && source.elementsEqual(target) { return .failed(.badRequest, "source and destination objects are the same") }
        guard let type = try type(of: source) else { return .integer(0) }
        try select(there)
        let taken = try exists(target)
        try select(here)
        if !replace && taken { return .integer(0) }
        let deadline = try deadline(source)
        return try withPayload(source, type) { keys, payload in
            if type != .string, var header = CollectionHeader(payload), !header.isPacked {
                header.id = try keys.copyElements(of: header.id)
                try keys.select(there)
                try header.bytes.withUnsafeBytes { try keys.place(target, type, $0, deadline: deadline, event: .copyTo) }
            } else {
                try keys.select(there)
                try keys.place(target, type, payload, deadline: deadline, event: .copyTo)
            }
            try keys.select(here)
            return .integer(1)
        }
    }

    /// MOVE: the key (of any type) and its deadline go to numbered database `target` unless a key of that
    /// name lives there; 1 if moved. Events `move_from` in the source, `move_to` in the target. A large
    /// collection moves as its record: its elements stay under its id.
    mutating func move(_ key: UnsafeRawBufferPointer, to target: Int) throws -> WriteOutcome {
        let here = database
        guard let type = try type(of: key) else { return .integer(0) }
        try select(target)
        let taken = try exists(key)
        try select(here)
        if taken { return .integer(0) }
        let deadline = try deadline(key)
        return try withPayload(key, type) { keys, payload in
            try keys.takeOut(key, type, event: .moveFrom)
            try keys.select(target)
            try keys.place(key, type, payload, deadline: deadline, event: .moveTo)
            try keys.select(here)
            return .integer(1)
        }
    }

    /// Calls `body` with what `key` (of `type`) holds, as RENAME, COPY and MOVE carry it: a string's value
    /// copied to a temporary buffer (no array: `withValueCopy`), or a collection's `__types` record.
    private mutating func withPayload<R>(_ key: UnsafeRawBufferPointer, _ type: KeyType,
                                         _ body: (inout KeyspaceWriter, UnsafeRawBufferPointer) throws -> R) throws -> R {
        if type == .string {
            return try withValueCopy(key, extra: { _ in 0 }) { keys, value, _ in try body(&keys, UnsafeRawBufferPointer(value)) }
        }
        let record = try transaction.get(types, key: Array(key))!
        return try record.withUnsafeBytes { try body(&self, $0) }
    }

    /// Takes `key` out of the selected database with its deadline, recording `event`; a collection's
    /// elements stay (its record is about to be placed elsewhere).
    private mutating func takeOut(_ key: UnsafeRawBufferPointer, _ type: KeyType, event: KeyEvent) throws {
        _ = try transaction.delete(type == .string ? keyspace : types, key: key)
        _ = try removeDeadline(key)
        changes.append(kind: .delete, event: event, key: key, origin: origin)
    }

    /// Stores `payload` (`withPayload`'s) under `target` as a new key of `type` (`replace`).
    private mutating func place(_ target: UnsafeRawBufferPointer, _ type: KeyType, _ payload: UnsafeRawBufferPointer,
                                deadline: Int64?, event: KeyEvent) throws {
        if type == .string {
            try replace(target, with: payload, deadline: deadline, event: event)
        } else {
            try replace(target, withCollection: payload, deadline: deadline, event: event)
        }
    }

    /// Stores `value` under `target` as a new key (Redis deletes what was there and adds the key: `new`),
    /// with the source's deadline, announcing no separate `expire`.
    private mutating func replace(_ target: UnsafeRawBufferPointer, with value: UnsafeRawBufferPointer, deadline: Int64?, event: KeyEvent) throws {
        try expireIfDue(target)
        _ = try dropCollection(target)
        try store(target, value, existed: false, deadline: deadline.map { .at($0) } ?? .remove, event: event, announceDeadline: false)
    }

    /// `replace` for a collection's `__types` record.
    private mutating func replace(_ target: UnsafeRawBufferPointer, withCollection record: UnsafeRawBufferPointer, deadline: Int64?,
                                  event: KeyEvent) throws {
        try expireIfDue(target)
        _ = try transaction.delete(keyspace, key: target)
        _ = try dropCollection(target)
        _ = try removeDeadline(target)
        try transaction.put(types, key: target, value: record)
        mayHaveCollections = true
        if let deadline { try setDeadline(target, deadline) }
        changes.append(kind: .put, event: event, flags: .created, key: target, origin: origin)
    }

    /// Copies every element record of collection `id` under a new id; returns it.
    private mutating func copyElements(of id: UInt64) throws -> UInt64 {
        let fresh = try CollectionEdit.nextID(transaction, databases.meta)
        var records: [([UInt8], [UInt8])] = []
        try transaction.forEach(elements, prefix: ElementKey.prefix(id)) { key, value in
            var copied = Array(key)
            copied.withUnsafeMutableBytes { $0.storeBytes(of: fresh.bigEndian, as: UInt64.self) }
            records.append((copied, Array(value)))
            return .proceed
        }
        try space?.spend(records.count)
        for (key, value) in records { try transaction.put(elements, key: key, value: value) }
        return fresh
    }
}
