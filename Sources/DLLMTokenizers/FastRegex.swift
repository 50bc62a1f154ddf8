/// Hand-written scanners for the pre-tokenization regexes of GPT-2, LLaMA-3
/// (also cl100k) and Qwen2, recognized by their exact source text.
///
/// Each scanner returns the same matches Oniguruma's `find_iter` gives for the
/// pattern (leftmost-first alternation with backtracking), by deciding at each
/// position which alternative wins. `NSRegularExpression` is much slower on
/// Linux, so these carry the common tokenizers.
struct FastRegex {
    enum Kind: Equatable {
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
        case gpt2
        /// LLaMA-3 / Qwen2: case-insensitive contractions, one optional
        /// non-letter before a letter run, numbers in runs of at most `maxDigits`.
        case llama3(maxDigits: Int)
    }

    static let gpt2Pattern =
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    let kind: Kind

    init(kind: Kind) { self.kind = kind }

    /// Recognizes one of the known patterns by its exact text.
    init?(pattern: String) {
        switch pattern {
        case Self.gpt2Pattern: kind = .gpt2
        case Self.llama3Pattern: kind = .llama3(maxDigits: 3)
        case Self.qwen2Pattern: kind = .llama3(maxDigits: 1)
        default: return nil
        }
    }

    /// All matches, left to right. The known patterns match at every position,
    /// so the matches tile the input.
    func matches(_ p: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(p.count / 4 + 1)
        forEachMatch(p) { out.append($0) }
        return out
    }

    @inline(__always)
    func forEachMatch(_ p: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        var i = 0
        let n = p.count
        switch kind {
        case .gpt2:
            while i < n {
                let e = gpt2End(p, i, n)
                body(i..<e)
                i = e
            }
        case .llama3(let maxDigits):
            while i < n {
                let e = llama3End(p, i, n, maxDigits)
                body(i..<e)
                i = e
            }
        }
    }

    // MARK: - Scanners

    @inline(__always)
    private func classAt(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (CharClass, UInt32, Int) {
        let b = p[i]
        if b < 0x80 { return (CharClasses.ascii[Int(b)], UInt32(b), 1) }
        let (v, l) = decodeScalar(p, i)
        return (CharClasses.of(v), v, l)
    }

    /// End of the run of characters of class `k` starting at `i`.
    @inline(__always)
    private func run(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int, _ k: CharClass) -> Int {
        var j = i
        while j < n {
            let (c, _, l) = classAt(p, j)
            if c != k { break }
            j += l
        }
        return j
    }

    /// `\s+(?!\S)|\s+` at `i`, which is whitespace: the whole run if it ends the
    /// text or is one character, else the run minus its last character.
    @inline(__always)
    private func whitespaceEnd(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        var j = i
        var lastStart = i
        var count = 0
        while j < n {
            let (c, _, l) = classAt(p, j)
            if c != .space { break }
            lastStart = j
            count += 1
            j += l
        }
        if j == n || count == 1 { return j }
        return lastStart
    }

    /// Contraction length at `i` (which holds `'`), or 0.
    @inline(__always)
    private func contraction(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int, caseInsensitive: Bool) -> Int {
        guard i + 1 < n else { return 0 }
        var c1 = p[i + 1]
        if caseInsensitive, c1 >= 0x41, c1 <= 0x5A { c1 |= 0x20 }
        switch c1 {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return 2
        case UInt8(ascii: "r"), UInt8(ascii: "v"), UInt8(ascii: "l"):
            guard i + 2 < n else { return 0 }
            var c2 = p[i + 2]
            if caseInsensitive, c2 >= 0x41, c2 <= 0x5A { c2 |= 0x20 }
            let want: UInt8 = c1 == UInt8(ascii: "l") ? UInt8(ascii: "l") : UInt8(ascii: "e")
            return c2 == want ? 3 : 0
        case 0xC5 where caseInsensitive && i + 2 < n && p[i + 2] == 0xBF:
            // U+017F LATIN SMALL LETTER LONG S case-folds to "s".
            return 3
        default:
            return 0
        }
    }

    private func gpt2End(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let (k0, c0, l0) = classAt(p, i)
        if c0 == 0x27 {
            let c = contraction(p, i, n, caseInsensitive: false)
            if c > 0 { return i + c }
        }
        if c0 == 0x20 && i + 1 < n {
            let (k1, _, l1) = classAt(p, i + 1)
            if k1 != .space { return run(p, i + 1 + l1, n, k1) }
        }
        if k0 == .space { return whitespaceEnd(p, i, n) }
        return run(p, i + l0, n, k0)
    }

    private func llama3End(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int, _ maxDigits: Int) -> Int {
        let (k0, c0, l0) = classAt(p, i)
        if c0 == 0x27 {
            let c = contraction(p, i, n, caseInsensitive: true)
            if c > 0 { return i + c }
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if k0 == .letter { return run(p, i + l0, n, .letter) }
        if k0 != .number && c0 != 0x0D && c0 != 0x0A && i + l0 < n {
            let (k1, _, l1) = classAt(p, i + l0)
            if k1 == .letter { return run(p, i + l0 + l1, n, .letter) }
        }
        // \p{N}{1,maxDigits}
        if k0 == .number {
            var j = i + l0
            var count = 1
            while count < maxDigits && j < n {
                let (k, _, l) = classAt(p, j)
                if k != .number { break }
                j += l
                count += 1
            }
            return j
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        var otherStart = -1
        if k0 == .other {
            otherStart = i
        } else if c0 == 0x20 && i + 1 < n {
            let (k1, _, _) = classAt(p, i + 1)
            if k1 == .other { otherStart = i + 1 }
        }
        if otherStart >= 0 {
            var j = run(p, otherStart, n, .other)
            while j < n && (p[j] == 0x0D || p[j] == 0x0A) { j += 1 }
            return j
        }
        // k0 is whitespace: \s*[\r\n]+ , then \s+(?!\S) , then \s+
        var j = i
        var lastNewline = -1
        while j < n {
            let (k, c, l) = classAt(p, j)
            if k != .space { break }
            if c == 0x0D || c == 0x0A { lastNewline = j }
            j += l
        }
        if lastNewline >= 0 { return lastNewline + 1 }
        return whitespaceEnd(p, i, n)
    }
}
