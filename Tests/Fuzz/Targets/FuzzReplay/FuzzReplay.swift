#if canImport(Glibc)
import Glibc
#endif

/// Runs a fuzz `target` once on each file's bytes: what libFuzzer does with a corpus, without the
/// fuzzing. The fuzz targets' `main` in an ordinary build; `make test` replays the seeds and the
/// regressions through it.
public func replayFiles(_ paths: some Sequence<String>, through target: (UnsafePointer<UInt8>, Int) -> CInt) {
    var count = 0
    for path in paths {
        guard let file = fopen(path, "rb") else {
            print("cannot open \(path)")
            exit(2)
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n == 0 { break }
            bytes += chunk[..<n]
        }
        fclose(file)
        bytes.append(0)
        _ = bytes.withUnsafeBufferPointer { target($0.baseAddress!, $0.count - 1) }
        count += 1
    }
    print("replayed \(count) inputs")
}

/// A fuzz target's entry point: `(data, size) -> 0`, libFuzzer's `LLVMFuzzerTestOneInput` shape.
public typealias FuzzTarget = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

#if FUZZING
/// libFuzzer's driver, for programs with a `main` of their own (SwiftPM links every executable
/// through its module's `main`, so libFuzzer's own `main` cannot be used).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                                 _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                                 _ callback: FuzzTarget) -> CInt
#endif

/// The fuzz programs' `main`: with `-DFUZZING` (and `-sanitize=fuzzer`) hands the command line to
/// libFuzzer; otherwise replays the files named on it.
public func fuzzMain(_ target: FuzzTarget) -> Never {
    #if FUZZING
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, target))
    #else
    replayFiles(CommandLine.arguments.dropFirst()) { data, size in target(data, size) }
    exit(0)
    #endif
}
