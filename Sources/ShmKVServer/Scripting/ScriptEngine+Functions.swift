import LMDB
import Logging
import Lua
import RDB
import StoreLayout
import Wire

/// A function a library registered (`redis.register_function`).
struct LibraryFunction: Sendable {
    let name: String
    let description: [UInt8]?
    let flags: ScriptFlags
}

/// A library FUNCTION LOAD made: its name, its code, its functions in the order they were registered.
struct FunctionLibrary: Sendable {
    let name: String
    let code: [UInt8]
    var functions: [LibraryFunction] = []
}

/// The libraries and which library each function is in (by the function's name in lower case:
/// Redis finds functions ignoring case): written by the writer, read by reactors (FUNCTION LIST and
/// STATS, FCALL's look-up).
struct FunctionCatalog: Sendable {
    var libraries: [String: FunctionLibrary] = [:]
    var owners: [String: String] = [:]

    func owner(_ name: String) -> String? { owners[name.lowercased()] }

    func function(_ name: String) -> LibraryFunction? {
        let lower = name.lowercased()
        return owners[lower].flatMap { libraries[$0] }?.functions.first { $0.name.lowercased() == lower }
    }
}

/// Functions (Redis 7.0's `functions.c` and `function_lua.c`): libraries are loaded into their own
/// interpreter, where each function's callback sits in the registry table `__functions`; their code
/// is kept in `__meta` (`function:<library>`) in the batch's transaction, and loaded again at start.
extension ScriptEngine {
    /// The functions' interpreter: the script sandbox plus the libraries' environment (`__library_env`,
    /// switched by `__library_mode`) and the callbacks' table.
    static func makeFunctionsState(memoryLimit: Int) -> LuaState {
        let lua = makeState(memoryLimit: memoryLimit)
        var source = ScriptPrelude.libraries
        let error = source.withUTF8 { lua.load(UnsafeRawBufferPointer($0), name: "@prelude") }
        precondition(error == nil, "the libraries prelude does not compile: \(error ?? "")")
        lua.pushFunction { L in ScriptBridge.registerFunction(L!) }
        lua.getRegistry("__protect")
        guard lua.call(arguments: 2, results: 2) == 0 else { fatalError("the libraries prelude failed") }
        lua.setRegistry("__library_mode")
        lua.setRegistry("__library_env")
        lua.newTable()
        lua.setRegistry("__functions")
        return lua
    }

    static let nameRule = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"

    static func isValidName(_ name: some StringProtocol) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x5f }
    }

    /// The library name in `code`'s first line (`#!lua name=mylib`), or Redis's error.
    static func libraryName(_ code: [UInt8]) -> Result<(name: String, shebangLength: Int), RESPError> {
        guard code.starts(with: [UInt8(ascii: "#"), UInt8(ascii: "!")]) else { return .failure(RESPError(message: "ERR Missing library metadata")) }
        guard let (words, length) = ScriptFlags.shebangWords(code), let engine = words.first else {
            return .failure(RESPError(message: "ERR Invalid library metadata"))
        }
        var name: String?
        for word in words.dropFirst() {
            guard word.lowercased().hasPrefix("name=") else { return .failure(RESPError(message: "ERR Invalid metadata value given: \(word)")) }
            if name != nil { return .failure(RESPError(message: "ERR Invalid metadata value, name argument was given multiple times")) }
            name = String(word.dropFirst(5))
        }
        guard let name else { return .failure(RESPError(message: "ERR Library name was not given")) }
        guard isValidName(name) else { return .failure(RESPError(message: "ERR " + nameRule)) }
        guard engine.dropFirst(2).uppercased() == "LUA" else { return .failure(RESPError(message: "ERR Engine '\(engine.dropFirst(2))' not found")) }
        return .success((name, length))
    }

    /// FUNCTION LOAD [REPLACE]: the library is loaded, its code kept in `__meta` in the batch's
    /// transaction, and the catalog the reactors read is replaced; its name, or Redis's error.
    func functionLoad(_ code: [UInt8], replace: Bool, keys: UnsafeMutablePointer<KeyspaceWriter>) throws -> Result<String, RESPError> {
        var catalog = libraries.withLock { $0 }
        let result = loadLibrary(code, replace: replace, into: &catalog)
        if case .success(let name) = result {
            try keys.pointee.keepLibrary(name, code: code)
            publish(catalog)
        }
        return result
    }

    /// Runs a library's code, which registers its functions, into the functions' interpreter and
    /// `catalog`; the library's name, or Redis's error (then nothing of it is kept).
    func loadLibrary(_ code: [UInt8], replace: Bool, into catalog: inout FunctionCatalog) -> Result<String, RESPError> {
        let name: String, shebang: Int
        switch ScriptEngine.libraryName(code) {
        case .failure(let error): return .failure(error)
        case .success(let found): (name, shebang) = found
        }
        if catalog.libraries[name] != nil && !replace { return .failure(RESPError(message: "ERR Library '\(name)' already exists")) }
        let base = functions.top
        defer { functions.top = base }
        // The code after the first line (its newline kept, so that line numbers are the file's).
        if let error = code.withUnsafeBytes({ functions.load(UnsafeRawBufferPointer(rebasing: $0[shebang...]), name: "@user_function") }) {
            return .failure(RESPError(message: "ERR Error compiling function: \(error)"))
        }
        functions.getRegistry("__library_env")
        functions.setEnvironment(of: -2)
        functions.getGlobal("__redis__err__handler")
        functions.pushValue(at: -2)
        functions.newTable()
        functions.setRegistry("__loading")
        loading = FunctionLibrary(name: name, code: code)
        defer { loading = nil }
        setLibraryMode(loading: true)
        functions.setHook(every: 100_000, message: "FUNCTION LOAD timeout", check: ScriptEngine.loadTimeout)
        activity.beginLoad()
        let status = functions.call(arguments: 0, results: 0, handler: base + 2)
        functions.setHook(every: 0, message: "", check: nil)
        setLibraryMode(loading: false)
        collectGarbage(functions, outOfMemory: status == LuaState.outOfMemory)
        if status != 0 {
            return .failure(RESPError(message: "ERR Error registering functions: " + ScriptEngine.errorMessage(functions)))
        }
        guard let library = loading, !library.functions.isEmpty else { return .failure(RESPError(message: "ERR No functions registered")) }
        if let taken = library.functions.first(where: { f in catalog.owner(f.name).map { $0 != name } ?? false }) {
            return .failure(RESPError(message: "ERR Function \(taken.name) already exists"))
        }
        if let old = catalog.libraries[name] { unlink(old, from: &catalog) }
        // The new callbacks move from `__loading` to `__functions`.
        functions.getRegistry("__functions")
        functions.getRegistry("__loading")
        for function in library.functions {
            functions.getField(-1, function.name)
            functions.setField(-3, function.name)
        }
        catalog.libraries[name] = library
        for function in library.functions { catalog.owners[function.name.lowercased()] = name }
        return .success(name)
    }

    /// Forgets a library's callbacks and entries (FUNCTION DELETE, LOAD REPLACE).
    private func unlink(_ library: FunctionLibrary, from catalog: inout FunctionCatalog) {
        functions.getRegistry("__functions")
        for function in library.functions {
            functions.pushNil()
            functions.setField(-2, function.name)
        }
        functions.pop(1)
        catalog.libraries[library.name] = nil
        for function in library.functions { catalog.owners[function.name.lowercased()] = nil }
    }

    /// FUNCTION DELETE: nil, or Redis's error.
    func deleteLibrary(_ name: String, keys: UnsafeMutablePointer<KeyspaceWriter>) throws -> RESPError? {
        var catalog = libraries.withLock { $0 }
        guard let library = catalog.libraries[name] else { return RESPError(message: "ERR Library not found") }
        try keys.pointee.keepLibrary(name, code: nil)
        unlink(library, from: &catalog)
        publish(catalog)
        noteMemory()
        return nil
    }

    /// FUNCTION FLUSH: every library goes, and the functions' interpreter starts anew.
    func flushLibraries(keys: UnsafeMutablePointer<KeyspaceWriter>) throws {
        for name in libraries.withLock({ Array($0.libraries.keys) }) { try keys.pointee.keepLibrary(name, code: nil) }
        publish(FunctionCatalog())
        functions = newFunctionsState()
        noteMemory()
    }

    /// At start, before the writer runs: the libraries kept in the store are loaded again.
    func restoreLibraries(from store: Store, logger: Logger) {
        do {
            let codes = try store.environment.read { txn in
                var found: [[UInt8]] = []
                try txn.forEach(store.catalog.first.meta, prefix: KeyspaceWriter.libraryKey("")) { _, value in
                    found.append(Array(value))
                    return .proceed
                }
                return found
            }
            publish(reloadLibraries(codes))
        } catch {
            logger.error("the function libraries could not be read: \(error)")
        }
    }

    /// FUNCTION RESTORE: the libraries of a DUMP payload (their codes) join or replace the loaded ones
    /// (`policy`), all or none: everything is loaded anew into a fresh interpreter, which replaces the
    /// old one only when every library loaded.
    func restoreLibraries(_ codes: [[UInt8]], policy: RestorePolicy, keys: UnsafeMutablePointer<KeyspaceWriter>) throws -> RESPError? {
        let current = libraries.withLock { $0 }
        var names: Set<String> = []
        for code in codes { if case .success(let found) = ScriptEngine.libraryName(code) { names.insert(found.name) } }
        var target: [[UInt8]] = []
        if policy != .flush {
            for library in current.libraries.values.sorted(by: { $0.name < $1.name }) where !names.contains(library.name) || policy == .append {
                if names.contains(library.name) { return RESPError(message: "ERR Library \(library.name) already exists") }
                target.append(library.code)
            }
        }
        let previous = functions
        functions = newFunctionsState()
        var catalog = FunctionCatalog()
        for code in target + codes {
            if case .failure(let error) = loadLibrary(code, replace: false, into: &catalog) {
                functions = previous
                noteMemory()
                return error
            }
        }
        for name in current.libraries.keys { try keys.pointee.keepLibrary(name, code: nil) }
        for library in catalog.libraries.values { try keys.pointee.keepLibrary(library.name, code: library.code) }
        publish(catalog)
        noteMemory()
        return nil
    }

    enum RestorePolicy: Sendable { case append, replace, flush }

    /// FUNCTION DUMP: every library's code as a FUNCTION2 record, sealed as Redis's DUMP payload.
    func dumpLibraries() -> [UInt8] {
        var writer = RDBWriter()
        for library in libraries.withLock({ $0.libraries.values.sorted { $0.name < $1.name } }) {
            writer.byte(ScriptEngine.function2Opcode)
            writer.string(library.code)
        }
        return DumpPayload.seal(writer.bytes)
    }

    static let function2Opcode: UInt8 = 245
    static let functionOpcode: UInt8 = 246

    /// The library codes of a FUNCTION DUMP payload (also the old FUNCTION records of 7.0's release
    /// candidates, rewritten with their shebang), or Redis's error.
    static func libraryCodes(inPayload payload: [UInt8]) -> Result<[[UInt8]], RESPError> {
        guard let (end, _) = DumpPayload.open(payload) else { return .failure(RESPError(message: "ERR DUMP payload version or checksum are wrong")) }
        var reader = RDBReader(payload, to: end)
        var codes: [[UInt8]] = []
        while !reader.isAtEnd {
            guard let type = try? reader.byte() else { return .failure(RESPError(message: "ERR can not read data type")) }
            switch type {
            case function2Opcode:
                guard let code = try? reader.string() else { return .failure(RESPError(message: "ERR Failed loading library payload")) }
                codes.append(code)
            case functionOpcode:
                do {
                    let name = try reader.string(), engine = try reader.string()
                    if try reader.length().value != 0 { _ = try reader.string() }
                    let blob = try reader.string()
                    codes.append(Array("#!".utf8) + engine + Array(" name=".utf8) + name + [UInt8(ascii: "\n")] + blob)
                } catch {
                    return .failure(RESPError(message: "ERR failed loading the given functions payload"))
                }
            default:
                return .failure(RESPError(message: "ERR given type is not a function"))
            }
        }
        return .success(codes)
    }

    /// The catalog the reactors read is replaced; their interpreters load it at their next function.
    private func publish(_ catalog: FunctionCatalog) {
        libraries.withLock { $0 = catalog }
        shared.catalogVersion.add(1, ordering: .releasing)
    }

    /// A fresh functions interpreter with the libraries of `codes` loaded (one that fails is logged and
    /// left out); their catalog.
    @discardableResult
    func reloadLibraries(_ codes: [[UInt8]]) -> FunctionCatalog {
        functions = newFunctionsState()
        var catalog = FunctionCatalog()
        for code in codes {
            if case .failure(let error) = loadLibrary(code, replace: false, into: &catalog) {
                logger.error("a function library did not load: \(error.message)")
            }
        }
        noteMemory()
        return catalog
    }

    /// A functions interpreter whose Swift functions find this engine.
    private func newFunctionsState() -> LuaState {
        let state = ScriptEngine.makeFunctionsState(memoryLimit: memoryLimit)
        state.context = Unmanaged.passUnretained(self).toOpaque()
        return state
    }

    private func setLibraryMode(loading: Bool) {
        functions.getRegistry("__library_mode")
        functions.push(loading)
        _ = functions.call(arguments: 1, results: 0)
    }

    /// FUNCTION LOAD's code may run 500 ms at most (Redis's load timeout).
    private static let loadTimeout: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { context in
        guard let context else { return 0 }
        return Unmanaged<ScriptEngine>.fromOpaque(context).takeUnretainedValue().activity.loadElapsed() > 500 ? 1 : 0
    }

    /// FCALL and FCALL_RO: the function's callback with KEYS and ARGV as its arguments.
    func callFunction(_ name: String, _ invocation: ScriptInvocation, _ call: ScriptRun) throws -> CommandResult {
        guard let function = libraries.withLock({ $0.function(name) }) else { return .error("ERR Function not found") }
        if let refusal = ScriptEngine.refusal(function.flags, invocation) { return .error(refusal) }
        call.invocation.noWrites = function.flags.contains(.noWrites)
        let base = functions.top
        defer { functions.top = base }
        functions.getGlobal("__redis__err__handler")
        functions.getRegistry("__functions")
        functions.getField(-1, function.name)
        pushArray(invocation.keys, on: functions)
        pushArray(invocation.arguments, on: functions)
        return try run(on: functions, arguments: 2, handler: base + 1, name: function.name, function: true, call)
    }
}

extension KeyspaceWriter {
    /// The `__meta` key of a function library's code.
    static func libraryKey(_ library: String) -> [UInt8] { StoreLayout.MetaKey.libraryPrefix + Array(library.utf8) }

    /// Keeps a library's code in `__meta` (nil: removes it); the batch then commits even with no key changed.
    mutating func keepLibrary(_ name: String, code: [UInt8]?) throws {
        if let code {
            try transaction.put(catalog.first.meta, key: KeyspaceWriter.libraryKey(name), value: code)
        } else {
            _ = try transaction.delete(catalog.first.meta, key: KeyspaceWriter.libraryKey(name))
        }
        metaChanged = true
    }
}
