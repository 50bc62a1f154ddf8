import Foundation
import HeapModule

/// A tokenization model: turns one pre-tokenized word into token ids.
public protocol TokenizerModel: AnyObject {
    func tokenToId(_ token: String) -> UInt32?
    func idToToken(_ id: UInt32) -> String?
    var vocabSize: Int { get }
    /// One more than the largest id of the vocabulary.
    var idUpperBound: Int { get }
    /// Appends the ids of one pre-tokenized word to `out`; `byteMode` (the word holds raw text whose
    /// bytes the model maps itself) only applies to byte-level BPE.
    func tokenize(_ word: Substring, byteMode: Bool, into out: inout [UInt32])
}

/// The `"type"` strings of `tokenizer.json` models handled here.
public enum ModelType: String {
    case bpe = "BPE"
    case wordPiece = "WordPiece"
}

/// Byte-pair encoding (`models::bpe::BPE` of the Rust crate).
///
/// Merges are looked up by token-id pair; a word is merged lowest rank first,
/// leftmost on ties, which is what `Word::merge_all`'s priority queue
/// (ordered by rank, then position) produces. Results are cached per word.
// @unchecked Sendable: the vocabulary and merges are `let`s set in `init`; the word cache, the
// one mutable part, is read and written only under `cacheLock`.
public final class BPEModel: TokenizerModel, @unchecked Sendable {
    let vocab: [RawString: UInt32]
    let vocabR: [String?]
    let merges: PairTable
    /// The merges in rank order, as `(left, right)` token ids.
    public let mergeList: [(UInt32, UInt32)]
    /// The id of the byte-level character of each byte, or `UInt32.max`.
    let byteIds: [UInt32]
    public let unkToken: String?
    let unkId: UInt32?
    public let fuseUnk: Bool
    public let ignoreMerges: Bool
    /// Unknown characters become their UTF-8 bytes' `<0xXX>` tokens (SentencePiece style).
    public let byteFallback: Bool
    /// The id of `<0xXX>` for each byte, or `UInt32.max` (used with `byteFallback`).
    let byteFallbackIds: [UInt32]

    private let cacheLock = NSLock()
    private var cache: [RawString: [UInt32]] = [:]
    private let cacheCapacity = 200_000
    private static let maxCachedWordLength = 256

    /// Builds a model from a vocabulary and merges given as token strings, in rank order.
    public convenience init(vocab: [String: UInt32], merges: [(String, String)], unkToken: String? = nil,
                            fuseUnk: Bool = false, ignoreMerges: Bool = false, byteFallback: Bool = false,
                            file: String = "<memory>") throws {
        try self.init(vocab: vocab.map { ($0.key, $0.value) }, merges: merges, unkToken: unkToken,
                      fuseUnk: fuseUnk, ignoreMerges: ignoreMerges, byteFallback: byteFallback, file: file)
    }

    /// Builds a model from `(token, id)` pairs (tokens compared byte-wise) and merges in rank order.
    public init(vocab: [(String, UInt32)], merges: [(String, String)], unkToken: String? = nil,
                fuseUnk: Bool = false, ignoreMerges: Bool = false, byteFallback: Bool = false,
                file: String = "<memory>") throws {
        var v: [RawString: UInt32] = [:]
        v.reserveCapacity(vocab.count)
        var maxId: UInt32 = 0
        for (token, id) in vocab {
            v[RawString(token)] = id
            maxId = max(maxId, id)
        }
        var r = [String?](repeating: nil, count: vocab.isEmpty ? 0 : Int(maxId) + 1)
        for (token, id) in vocab { r[Int(id)] = token }
        self.vocab = v
        self.vocabR = r

        var table = PairTable(capacity: merges.count)
        var list: [(UInt32, UInt32)] = []
        list.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = v[RawString(a)] else { throw TokenizerError.mergeTokenNotInVocabulary(token: a, file: file) }
            guard let ib = v[RawString(b)] else { throw TokenizerError.mergeTokenNotInVocabulary(token: b, file: file) }
            let merged = a + b
            guard let inew = v[RawString(merged)] else {
                throw TokenizerError.mergeTokenNotInVocabulary(token: merged, file: file)
            }
            table.set(ia, ib, rank: UInt32(rank), newId: inew)
            list.append((ia, ib))
        }
        self.merges = table
        self.mergeList = list

        var bytes = [UInt32](repeating: UInt32.max, count: 256)
        for b in 0..<256 {
            if let id = v[RawString(String(ByteLevelAlphabet.scalars[b]))] { bytes[b] = id }
        }
        self.byteIds = bytes
        var fallback = [UInt32](repeating: UInt32.max, count: 256)
        if byteFallback {
            for b in 0..<256 {
                if let id = v[RawString(Self.byteFallbackToken(UInt8(b)))] { fallback[b] = id }
            }
        }
        self.byteFallback = byteFallback
        self.byteFallbackIds = fallback
        self.unkToken = unkToken
        if let unkToken {
            guard let id = v[RawString(unkToken)] else {
                throw TokenizerError.mergeTokenNotInVocabulary(token: unkToken, file: file)
            }
            self.unkId = id
        } else {
            self.unkId = nil
        }
        self.fuseUnk = fuseUnk
        self.ignoreMerges = ignoreMerges
    }

    public var vocabSize: Int { vocab.count }
    public var idUpperBound: Int { vocabR.count }

    public func tokenToId(_ token: String) -> UInt32? { vocab[RawString(token)] }

    public func idToToken(_ id: UInt32) -> String? {
        Int(id) < vocabR.count ? vocabR[Int(id)] : nil
    }

    /// The vocabulary as a dictionary (token → id).
    public var vocabulary: [String: UInt32] {
        var d: [String: UInt32] = [:]
        for (k, v) in vocab { d[k.value] = v }
        return d
    }

    // MARK: - Tokenization

    /// Tokenizes one word and appends its ids to `out`.
    ///
    /// In byte mode the word holds raw text and its UTF-8 bytes are the initial
    /// symbols (each standing for its byte-level character, as produced by the
    /// `ByteLevel` pre-tokenizer); otherwise the word's Unicode scalars are.
    /// Mirrors `BPE::tokenize` / `tokenize_with_cache` / `merge_word`.
    public func tokenize(_ word: Substring, byteMode: Bool, into out: inout [UInt32]) {
        if word.isEmpty { return }
        let key = RawString(word)
        let cacheable = word.utf8.count < Self.maxCachedWordLength
        if cacheable {
            cacheLock.lock()
            let hit = cache[key]
            cacheLock.unlock()
            if let hit {
                out.append(contentsOf: hit)
                return
            }
        }
        let ids = tokenizeUncached(word, byteMode: byteMode)
        if cacheable {
            cacheLock.lock()
            if cache.count < cacheCapacity { cache[key] = ids }
            cacheLock.unlock()
        }
        out.append(contentsOf: ids)
    }

    func tokenizeUncached(_ word: Substring, byteMode: Bool) -> [UInt32] {
        if ignoreMerges {
            let token = byteMode ? ByteLevelAlphabet.encode(word.utf8) : String(word)
            if let id = vocab[RawString(token)] { return [id] }
        }
        var symbols: [UInt32] = []
        symbols.reserveCapacity(word.utf8.count)
        // Pending run of unknown characters (fused when `fuse_unk`).
        var pendingUnk = false
        func unknown() {
            guard let unkId else { return }  // No unk token: the character is dropped.
            if fuseUnk && pendingUnk { return }
            symbols.append(unkId)
            pendingUnk = true
        }
        if byteFallback && !byteMode {
            symbols = initialSymbolsWithByteFallback(word)
        } else if byteMode {
            for b in word.utf8 {
                let id = byteIds[Int(b)]
                if id != UInt32.max {
                    symbols.append(id)
                    pendingUnk = false
                } else {
                    unknown()
                }
            }
        } else {
            for s in word.unicodeScalars {
                if let id = vocab[RawString(String(s))] {
                    symbols.append(id)
                    pendingUnk = false
                } else {
                    unknown()
                }
            }
        }
        if symbols.count > 1 {
            if symbols.count <= 48 { mergeByScanning(&symbols) } else { mergeWithHeap(&symbols) }
        }
        return symbols
    }

    /// `<0xXX>`, the token SentencePiece vocabularies hold for a raw byte.
    static func byteFallbackToken(_ b: UInt8) -> String {
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    /// The word's characters as ids, an unknown character as its bytes' `<0xXX>` ids
    /// when all exist, else as the unknown token (a run of them fused with `fuseUnk`).
    /// Mirrors `BPE::merge_word`: a pending unknown is emitted only when a known
    /// character (or the end) follows, so byte tokens can precede it.
    func initialSymbolsWithByteFallback(_ word: Substring) -> [UInt32] {
        var symbols: [UInt32] = []
        symbols.reserveCapacity(word.utf8.count)
        var pendingUnk = false
        for s in word.unicodeScalars {
            if let id = vocab[RawString(String(s))] {
                if pendingUnk, let unkId { symbols.append(unkId) }
                pendingUnk = false
                symbols.append(id)
                continue
            }
            var utf8: [UInt8] = []
            utf8.append(contentsOf: String(s).utf8)
            let ids = utf8.map { byteFallbackIds[Int($0)] }
            if !ids.contains(UInt32.max) {
                symbols.append(contentsOf: ids)
                continue
            }
            guard let unkId else { continue }
            if pendingUnk && !fuseUnk { symbols.append(unkId) }
            pendingUnk = true
        }
        if pendingUnk, let unkId { symbols.append(unkId) }
        return symbols
    }

    /// Repeatedly merges the lowest-ranked adjacent pair (leftmost on ties).
    /// Quadratic, fastest for the short words that dominate real text.
    func mergeByScanning(_ ids: inout [UInt32]) {
        var values = [UInt64](repeating: UInt64.max, count: ids.count - 1)
        for j in 0..<(ids.count - 1) { values[j] = merges.get(ids[j], ids[j + 1]) }
        while !values.isEmpty {
            var best = 0
            var bestValue = values[0]
            for j in 1..<values.count where values[j] < bestValue {
                bestValue = values[j]
                best = j
            }
            if bestValue == UInt64.max { break }
            ids[best] = UInt32(truncatingIfNeeded: bestValue)
            ids.remove(at: best + 1)
            values.remove(at: best)
            if best > 0 { values[best - 1] = merges.get(ids[best - 1], ids[best]) }
            if best < values.count { values[best] = merges.get(ids[best], ids[best + 1]) }
        }
    }

    /// The same merge order with a priority queue keyed by (rank, position),
    /// as `Word::merge_all` does, for long words.
    func mergeWithHeap(_ ids: inout [UInt32]) {
        let n = ids.count
        var prev = [Int](repeating: -1, count: n)
        var next = [Int](repeating: -1, count: n)
        var alive = [Bool](repeating: true, count: n)
        for i in 0..<n {
            prev[i] = i - 1
            next[i] = i + 1 < n ? i + 1 : -1
        }
        var heap = Heap<MergeCandidate>()
        for i in 0..<(n - 1) {
            let v = merges.get(ids[i], ids[i + 1])
            if v != UInt64.max { heap.insert(MergeCandidate(rank: UInt32(v >> 32), pos: i, newId: UInt32(truncatingIfNeeded: v))) }
        }
        while let top = heap.popMin() {
            let pos = top.pos
            guard alive[pos], next[pos] >= 0 else { continue }
            let right = next[pos]
            let v = merges.get(ids[pos], ids[right])
            // An expired entry: the pair at `pos` changed since it was queued.
            if v == UInt64.max || UInt32(truncatingIfNeeded: v) != top.newId { continue }
            ids[pos] = top.newId
            alive[right] = false
            next[pos] = next[right]
            if next[right] >= 0 { prev[next[right]] = pos }
            if prev[pos] >= 0 {
                let p = prev[pos]
                let pv = merges.get(ids[p], ids[pos])
                if pv != UInt64.max { heap.insert(MergeCandidate(rank: UInt32(pv >> 32), pos: p, newId: UInt32(truncatingIfNeeded: pv))) }
            }
            if next[pos] >= 0 {
                let nv = merges.get(ids[pos], ids[next[pos]])
                if nv != UInt64.max { heap.insert(MergeCandidate(rank: UInt32(nv >> 32), pos: pos, newId: UInt32(truncatingIfNeeded: nv))) }
            }
        }
        var out: [UInt32] = []
        out.reserveCapacity(n)
        for i in 0..<n where alive[i] { out.append(ids[i]) }
        ids = out
    }
}

/// A queued merge, ordered by (rank, position): the smallest comes out of the
/// `Heap` first, as in `Word::merge_all`'s queue. Equal keys carry the same
/// `newId` (the rank fixes it), so the order among equals does not matter.
struct MergeCandidate: Comparable {
    let key: UInt64
    let newId: UInt32
    var pos: Int { Int(key & 0xFFFF_FFFF) }

    init(rank: UInt32, pos: Int, newId: UInt32) {
        key = UInt64(rank) << 32 | UInt64(pos)
        self.newId = newId
    }

    static func < (a: MergeCandidate, b: MergeCandidate) -> Bool { a.key < b.key }
    static func == (a: MergeCandidate, b: MergeCandidate) -> Bool { a.key == b.key }
}
