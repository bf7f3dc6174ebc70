/// Stepping over what an RDB file holds but this codec does not read, so that the keys after it still
/// load: module values in their self-describing form, module AUX data, streams' consumer groups, and
/// Redis 7.4's hashes with field TTLs. Each step checks its counts against the bytes left, as the value readers do.
extension RDBReader {
    /// Steps over a value of `type` (one that `RDBType.unsupportedName` names) and says what it was:
    /// "a value of module type 'ReJSON-RL'". Modules' pre-4.0 form (type 6) does not say
    /// where it ends and cannot be stepped over: that is an error.
    mutating func skipValue(ofType type: UInt8) throws(RDBError) -> String {
        let at = offset
        switch type {
        case RDBType.module2:
            let id = try length().value
            try skipModuleValue()
            return "a value of module type '\(Self.moduleName(id))'"
        case RDBType.hashMetadataPreGA, RDBType.hashMetadata:
            if type == RDBType.hashMetadata { _ = try take(8) }
            for _ in 0..<(try count()) {
                _ = try length()
                _ = try take(stringLength())
                _ = try take(stringLength())
            }
            return "a hash with field expiry (Redis 7.4)"
        case RDBType.hashListpackExPreGA, RDBType.hashListpackEx:
            if type == RDBType.hashListpackEx { _ = try take(8) }
            _ = try take(stringLength())
            return "a hash with field expiry (Redis 7.4)"
        default:
            throw RDBError(offset: at, reason: "a value of type \(type) (\(RDBType.unsupportedName(type) ?? "unknown")) cannot be stepped over")
        }
    }

    /// Steps over module AUX data (opcode 0xF7): the module's id, `when` (as a UINT opcode and a
    /// length), then its value. Returns the module's name.
    mutating func skipModuleAux() throws(RDBError) -> String {
        let id = try length().value
        let at = offset
        guard try length().value == 2 else { throw RDBError(offset: at, reason: "module AUX data without its 'when'") }
        _ = try length()
        try skipModuleValue()
        return Self.moduleName(id)
    }

    /// A module value's fields, each an opcode and its datum, to the EOF opcode (Redis's
    /// rdbLoadCheckModuleValue).
    private mutating func skipModuleValue() throws(RDBError) {
        while true {
            let at = offset
            switch try length().value {
            case 0: return
            case 1, 2: _ = try length()
            case 3: _ = try take(4)
            case 4: _ = try take(8)
            case 5: _ = try take(stringLength())
            case let opcode: throw RDBError(offset: at, reason: "unknown module value opcode \(opcode)")
            }
        }
    }

    /// A stream's consumer group: its name, last id (and entries read, types 19 and 21), its pending
    /// entries, its consumers each with their pending ids.
    mutating func skipStreamGroup(type: UInt8) throws(RDBError) {
        _ = try take(stringLength())  // the group's name
        for _ in 0..<(type >= RDBType.streamListpacks2 ? 3 : 2) { _ = try length() }
        for _ in 0..<(try count()) {
            _ = try take(16 + 8)  // an entry id, its delivery time
            _ = try length()      // its delivery count
        }
        for _ in 0..<(try count()) {
            _ = try take(stringLength())  // the consumer's name
            _ = try take(type >= RDBType.streamListpacks3 ? 16 : 8)
            for _ in 0..<(try count()) { _ = try take(16) }
        }
    }

    /// The number of bytes the next string takes, its length prefix read (an LZF string's compressed
    /// size; an integer's width): what stepping over it must take.
    private mutating func stringLength() throws(RDBError) -> Int {
        let (value, encoded) = try length()
        guard encoded else { return Int(clamping: value) }
        switch value {
        case 0: return 1
        case 1: return 2
        case 2: return 4
        case 3:
            let compressed = Int(clamping: try length().value)
            _ = try length()
            return compressed
        default: throw RDBError(offset: offset - 1, reason: "unknown string encoding \(value)")
        }
    }

    /// A module type's nine-character name, from the 54 high bits of its id (Redis's
    /// moduleTypeNameByID).
    static func moduleName(_ id: UInt64) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var id = id >> 10
        var name: [Character] = []
        for _ in 0..<9 {
            name.append(alphabet[Int(id & 63)])
            id >>= 6
        }
        return String(name.reversed())
    }
}
