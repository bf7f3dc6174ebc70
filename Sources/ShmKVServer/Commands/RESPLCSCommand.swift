import StoreLayout
import Wire

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: Redis's dynamic programming table and its
/// walk back from the end, so that the string and the matches are the ones redis-server answers
/// (several longest common subsequences may exist; the walk decides which). Runs on copies of the two
/// values; the table is bounded (`maxCells`), so no request can take unbounded memory.
extension StringCommands {
    /// 16 Mi cells of 4 bytes: strings up to about 4,000 bytes each.
    static let lcsMaxCells = 16 << 20

    static func lcs(_ c: CommandCall) throws {
        let args = c.args, reply = c.reply
        let a: [UInt8], b: [UInt8]
        do {
            a = try c.keys.withValue(args[1]) { $0.map { Array($0) } } ?? []
            b = try c.keys.withValue(args[2]) { $0.map { Array($0) } } ?? []
        } catch is WrongTypeError {
            return reply.error("ERR The specified keys must contain string values")
        }
        var getLength = false, getIndexes = false, withMatchLength = false
        var minMatchLength = 0
        var i = 3
        while i < args.count {
            if args.is(i, "IDX") {
                getIndexes = true
            } else if args.is(i, "LEN") {
                getLength = true
            } else if args.is(i, "WITHMATCHLEN") {
                withMatchLength = true
            } else if args.is(i, "MINMATCHLEN") && i + 1 < args.count {
                guard let n = args.integer(i + 1) else { return reply.error("ERR value is not an integer or out of range") }
                minMatchLength = n < 0 ? 0 : Int(clamping: n)
                i += 1
            } else {
                return reply.error("ERR syntax error")
            }
            i += 1
        }
        if getIndexes && getLength {
            return reply.error("ERR If you want both the length and indexes, please just use IDX.")
        }
        let (cells, overflow) = (a.count + 1).multipliedReportingOverflow(by: b.count + 1)
        guard !overflow, cells <= lcsMaxCells else {
            return reply.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        }
        let table = LCSTable(a, b)
        if getLength && !getIndexes { return reply.integer(table.length) }
        let (text, matches) = table.walk(minMatchLength: minMatchLength)
        guard getIndexes else { return reply.bulk(text) }
        reply.map(2)
        reply.bulk("matches")
        reply.array(matches.count)
        for match in matches {
            reply.array(withMatchLength ? 3 : 2)
            for range in [match.a, match.b] {
                reply.array(2)
                reply.integer(range.lowerBound)
                reply.integer(range.upperBound)
            }
            if withMatchLength { reply.integer(match.a.count) }
        }
        reply.bulk("len")
        reply.integer(table.length)
    }
}

/// LCS(i, j) = the length of the longest common subsequence of a[..<i] and b[..<j].
struct LCSTable {
    let a: [UInt8], b: [UInt8]
    private var cells: [UInt32]

    init(_ a: [UInt8], _ b: [UInt8]) {
        self.a = a
        self.b = b
        let width = b.count + 1
        cells = [UInt32](repeating: 0, count: (a.count + 1) * width)
        for i in 0...a.count {
            for j in 0...b.count where i > 0 && j > 0 {
                cells[i * width + j] = a[i - 1] == b[j - 1]
                    ? cells[(i - 1) * width + j - 1] + 1
                    : max(cells[(i - 1) * width + j], cells[i * width + j - 1])
            }
        }
    }

    private func at(_ i: Int, _ j: Int) -> Int { Int(cells[i * (b.count + 1) + j]) }

    var length: Int { at(a.count, b.count) }

    /// Redis's walk from (len a, len b) back: the common subsequence, and its contiguous runs as closed
    /// ranges in a and b, last first, runs shorter than `minMatchLength` left out.
    func walk(minMatchLength: Int) -> (text: [UInt8], matches: [(a: ClosedRange<Int>, b: ClosedRange<Int>)]) {
        var text = [UInt8](repeating: 0, count: length)
        var matches: [(a: ClosedRange<Int>, b: ClosedRange<Int>)] = []
        var index = length
        var i = a.count, j = b.count
        // An open run: a[aStart...aEnd] matches b[bStart...bEnd]; none while aStart == a.count.
        var aStart = a.count, aEnd = 0, bStart = 0, bEnd = 0
        while i > 0 && j > 0 {
            var emit = false
            if a[i - 1] == b[j - 1] {
                text[index - 1] = a[i - 1]
                if aStart == a.count {
                    aStart = i - 1; aEnd = i - 1
                    bStart = j - 1; bEnd = j - 1
                } else if aStart == i && bStart == j {
                    aStart -= 1
                    bStart -= 1
                } else {
                    emit = true
                }
                if aStart == 0 || bStart == 0 { emit = true }
                index -= 1; i -= 1; j -= 1
            } else {
                if at(i - 1, j) > at(i, j - 1) { i -= 1 } else { j -= 1 }
                if aStart != a.count { emit = true }
            }
            if emit {
                if minMatchLength == 0 || aEnd - aStart + 1 >= minMatchLength {
                    matches.append((aStart...aEnd, bStart...bEnd))
                }
                aStart = a.count
            }
        }
        return (text, matches)
    }
}
