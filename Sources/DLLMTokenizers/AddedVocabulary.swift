/// A token added on top of the model's vocabulary (`AddedToken` of the Rust crate).
public struct AddedToken: Equatable, Sendable {
    public var id: UInt32
    public var content: String
    public var singleWord = false
    public var lstrip = false
    public var rstrip = false
    public var normalized = true
    public var special = false

    public init(id: UInt32, content: String, singleWord: Bool = false, lstrip: Bool = false,
                rstrip: Bool = false, normalized: Bool = true, special: Bool = false) {
        self.id = id
        self.content = content
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special
    }
}

/// One piece of input after added tokens are split out: either text still to
/// be pre-tokenized, or an added token's id.
enum InputPiece {
    case text(Substring)
    case token(UInt32)
}

/// Finds added tokens in text (`AddedVocabulary` of the Rust crate).
///
/// Non-normalized tokens are matched in the raw input first, then the
/// remaining text is normalized and normalized tokens are matched in it
/// (`extract_and_normalize`). Matching is leftmost-longest and
/// non-overlapping, like the crate's Aho-Corasick `LeftmostLongest` automaton.
struct AddedVocabulary {
    let tokens: [AddedToken]
    private let rawMatcher: TokenMatcher
    private let normalizedMatcher: TokenMatcher
    let byId: [UInt32: AddedToken]
    let specialIds: Set<UInt32>

    init(tokens: [AddedToken], normalizer: Normalizer?) {
        self.tokens = tokens
        var byId: [UInt32: AddedToken] = [:]
        for t in tokens { byId[t.id] = t }
        self.byId = byId
        specialIds = Set(tokens.filter(\.special).map(\.id))
        rawMatcher = TokenMatcher(tokens.filter { !$0.normalized && !$0.content.isEmpty }.map { ($0.content, $0) })
        normalizedMatcher = TokenMatcher(tokens.filter { $0.normalized && !$0.content.isEmpty }.map {
            (normalizer?.normalize($0.content) ?? $0.content, $0)
        })
    }

    var isEmpty: Bool { tokens.isEmpty }

    /// Splits `text` into added tokens and normalized text pieces.
    func extractAndNormalize(_ text: String, normalizer: Normalizer?) -> [InputPiece] {
        var out: [InputPiece] = []
        for piece in rawMatcher.split(Substring(text)) {
            switch piece {
            case .token:
                out.append(piece)
            case .text(let t):
                let normalized = normalizer.map { Substring($0.normalize(String(t))) } ?? t
                out.append(contentsOf: normalizedMatcher.split(normalized))
            }
        }
        return out
    }
}

/// Leftmost-longest multi-pattern matching with the added-token options
/// applied, mirroring `AddedVocabulary::find_matches`.
struct TokenMatcher {
    /// Patterns grouped by first byte, longest first.
    private var byFirstByte: [[([UInt8], AddedToken)]] = Array(repeating: [], count: 256)
    private let isEmpty: Bool

    init(_ patterns: [(String, AddedToken)]) {
        isEmpty = patterns.isEmpty
        for (content, token) in patterns {
            let bytes = Array(content.utf8)
            guard let first = bytes.first else { continue }
            byFirstByte[Int(first)].append((bytes, token))
        }
        for i in 0..<256 { byFirstByte[i].sort { $0.0.count > $1.0.count } }
    }

    /// The longest pattern starting at `i`, if any.
    private func longest(at i: Int, _ p: UnsafeBufferPointer<UInt8>) -> ([UInt8], AddedToken)? {
        for candidate in byFirstByte[Int(p[i])] {
            let c = candidate.0
            if i + c.count > p.count { continue }
            var ok = true
            for k in 1..<c.count where p[i + k] != c[k] { ok = false; break }
            if ok { return candidate }
        }
        return nil
    }

    func split(_ text: Substring) -> [InputPiece] {
        if isEmpty || text.isEmpty { return text.isEmpty ? [] : [.text(text)] }
        var text = text
        // (token, start, stop) in byte offsets.
        var found: [(UInt32, Int, Int)] = []
        text.withUTF8 { p in
            var startOffset = 0
            var i = 0
            while i < p.count {
                guard let (bytes, token) = longest(at: i, p) else { i += 1; continue }
                var start = i
                var stop = i + bytes.count
                i = stop  // The automaton resumes after the match, kept or not.
                if token.singleWord {
                    let startSpace = start == 0 || !Self.endsWithWord(p, start)
                    let stopSpace = stop == p.count || !Self.startsWithWord(p, stop)
                    if !startSpace || !stopSpace { continue }
                }
                if token.lstrip {
                    start = max(Self.whitespaceStart(p, before: start), startOffset)
                }
                if token.rstrip {
                    stop = Self.whitespaceEnd(p, after: stop)
                }
                found.append((token.id, start, stop))
                startOffset = stop
            }
        }
        if found.isEmpty { return [.text(text)] }
        var out: [InputPiece] = []
        let utf8 = text.utf8
        var prev = 0
        func slice(_ a: Int, _ b: Int) -> Substring {
            let ia = utf8.index(utf8.startIndex, offsetBy: a)
            return Substring(utf8[ia..<utf8.index(ia, offsetBy: b - a)])
        }
        for (id, start, stop) in found {
            if prev < start { out.append(.text(slice(prev, start))) }
            out.append(.token(id))
            prev = stop
        }
        if prev < utf8.count { out.append(.text(slice(prev, utf8.count))) }
        return out
    }

    /// Start of the scalar ending right before byte `i`.
    private static func scalarBefore(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Unicode.Scalar, Int) {
        var j = i - 1
        while j > 0 && (p[j] & 0xC0) == 0x80 { j -= 1 }
        return (Unicode.Scalar(decodeScalar(p, j).0)!, j)
    }

    static func endsWithWord(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        i > 0 && CharClasses.isWordCharacter(scalarBefore(p, i).0)
    }

    static func startsWithWord(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        i < p.count && CharClasses.isWordCharacter(Unicode.Scalar(decodeScalar(p, i).0)!)
    }

    /// Start of the whitespace run ending at `i` (`\s*$` on the text before it).
    static func whitespaceStart(_ p: UnsafeBufferPointer<UInt8>, before i: Int) -> Int {
        var j = i
        while j > 0 {
            let (s, start) = scalarBefore(p, j)
            if !s.properties.isWhitespace { break }
            j = start
        }
        return j
    }

    /// End of the whitespace run starting at `i` (`^\s*` on the text after it).
    static func whitespaceEnd(_ p: UnsafeBufferPointer<UInt8>, after i: Int) -> Int {
        var j = i
        while j < p.count {
            let (v, l) = decodeScalar(p, j)
            if !Unicode.Scalar(v)!.properties.isWhitespace { break }
            j += l
        }
        return j
    }
}
