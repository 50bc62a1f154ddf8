import Foundation
import HeapModule

/// Learns a byte-level BPE the way the Rust crate's `BpeTrainer` does, so that
/// on the same corpus the vocabulary and merges equal the Python trainer's
/// (`tokenizers.trainers.BpeTrainer` with a `ByteLevel` pre-tokenizer and
/// `initial_alphabet=ByteLevel.alphabet()`).
///
/// Mirrors `BpeTrainer::do_train`: special tokens take the first ids, then the
/// alphabet sorted by code point; pairs are counted over the distinct words
/// weighted by frequency and kept in a max-heap ordered by count, ties going to
/// the smaller `(left, right)` id pair; stale heap entries are re-queued with
/// their current count (lazy update), exactly as the reference does.
public final class BPETrainer {
    public let vocabSize: Int
    public let minFrequency: Int
    public let specialTokens: [String]
    /// The pre-tokenizer words are counted with (GPT-2's ByteLevel).
    public let preTokenizer = ByteLevelPreTokenizer(addPrefixSpace: false, trimOffsets: true, useRegex: true)
    /// Distinct byte-level words and their counts.
    private(set) var wordCounts: [RawString: Int] = [:]

    public init(vocabSize: Int, minFrequency: Int = 0, specialTokens: [String] = []) {
        self.vocabSize = vocabSize
        self.minFrequency = minFrequency
        self.specialTokens = specialTokens
    }

    /// Counts the words of text files, line by line with line endings kept
    /// (`Tokenizer::train_from_files` reads `lines_with_ending`).
    public func feed(files: [String]) throws {
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw TokenizerError.fileNotFound(path: path)
            }
            feed(text: String(decoding: data, as: UTF8.self))
        }
    }

    /// Counts the words of a text, one sequence per line (line endings kept).
    public func feed(text: String) {
        var start = text.startIndex
        let utf8 = text.utf8
        var i = utf8.startIndex
        while i < utf8.endIndex {
            if utf8[i] == UInt8(ascii: "\n") {
                let end = utf8.index(after: i)
                feed(sequence: text[start..<end])
                start = end
            }
            i = utf8.index(after: i)
        }
        if start < text.endIndex { feed(sequence: text[start...]) }
    }

    /// Counts the words of one sequence (`BpeTrainer::feed`).
    public func feed(sequence: Substring) {
        var words: [Substring] = []
        preTokenizer.split([sequence], into: &words)
        for w in words {
            wordCounts[RawString(ByteLevelAlphabet.encode(w.utf8)), default: 0] += 1
        }
    }

    /// The result of training: vocabulary, merges in rank order, special tokens.
    public struct Result: Sendable {
        public let vocab: [String: UInt32]
        public let merges: [(String, String)]
        public let specialTokens: [String]
    }

    /// A queued merge. `<` is the reference's heap order reversed for `Heap.popMin`:
    /// higher count first, then the smaller pair; `pos` takes no part in the order.
    private struct Merge: Comparable {
        let pair: UInt64
        var count: Int
        let pos: Set<Int>

        static func < (a: Merge, b: Merge) -> Bool { a.count != b.count ? a.count > b.count : a.pair < b.pair }
        static func == (a: Merge, b: Merge) -> Bool { a.count == b.count && a.pair == b.pair }
    }

    /// Runs the merges (`BpeTrainer::do_train`).
    public func train() throws -> Result {
        guard vocabSize > 0 else { throw TokenizerError.invalidTrainingConfiguration(detail: "--vocab-size must be positive") }
        var wordToId: [RawString: UInt32] = [:]
        var idToWord: [String] = []
        func add(_ s: String) {
            if wordToId[RawString(s)] == nil {
                idToWord.append(s)
                wordToId[RawString(s)] = UInt32(idToWord.count - 1)
            }
        }
        // 1. Special tokens.
        specialTokens.forEach(add)
        // 2. Alphabet: every character seen plus the 256 byte-level ones, by code point.
        var alphabet = Set<UInt32>(ByteLevelAlphabet.alphabet.map(\.value))
        for w in wordCounts.keys { for s in w.value.unicodeScalars { alphabet.insert(s.value) } }
        for v in alphabet.sorted() { add(String(Unicode.Scalar(v)!)) }
        // 3. Words as symbol ids.
        let entries = Array(wordCounts)
        var words: [[UInt32]] = entries.map { entry in entry.key.value.unicodeScalars.map { wordToId[RawString(String($0))]! } }
        let counts: [Int] = entries.map(\.value)
        // 4. Pair counts and where each pair occurs.
        var pairCounts: [UInt64: Int] = [:]
        var whereToUpdate: [UInt64: Set<Int>] = [:]
        for (i, w) in words.enumerated() where w.count > 1 {
            for j in 0..<(w.count - 1) {
                let p = PairTable.key(w[j], w[j + 1])
                pairCounts[p, default: 0] += counts[i]
                whereToUpdate[p, default: []].insert(i)
            }
        }
        var queue = Heap<Merge>()
        for (pair, pos) in whereToUpdate where pairCounts[pair]! > 0 {
            queue.insert(Merge(pair: pair, count: pairCounts[pair]!, pos: pos))
        }
        whereToUpdate.removeAll()
        // 5. Merges.
        var merges: [(UInt64, UInt32)] = []
        while wordToId.count < vocabSize, var top = queue.popMin() {
            let current = pairCounts[top.pair] ?? 0
            if top.count != current {
                top.count = current
                queue.insert(top)
                continue
            }
            if top.count < 1 || minFrequency > top.count { break }
            let a = UInt32(top.pair >> 32), b = UInt32(truncatingIfNeeded: top.pair)
            let newToken = idToWord[Int(a)] + idToWord[Int(b)]
            add(newToken)
            let newId = wordToId[RawString(newToken)]!
            merges.append((top.pair, newId))
            for i in top.pos {
                for (pair, change) in Self.merge(&words[i], a, b, newId) {
                    pairCounts[pair, default: 0] += change * counts[i]
                    if change > 0 { whereToUpdate[pair, default: []].insert(i) }
                }
            }
            for (pair, pos) in whereToUpdate {
                let c = pairCounts[pair] ?? 0
                if c > 0 { queue.insert(Merge(pair: pair, count: c, pos: pos)) }
            }
            whereToUpdate.removeAll(keepingCapacity: true)
        }
        // The model keeps one rank per pair (a repeated pair keeps its last rank).
        var lastRank: [UInt64: Int] = [:]
        for (rank, m) in merges.enumerated() { lastRank[m.0] = rank }
        var mergeStrings: [(String, String)] = []
        for (rank, m) in merges.enumerated() where lastRank[m.0] == rank {
            mergeStrings.append((idToWord[Int(m.0 >> 32)], idToWord[Int(UInt32(truncatingIfNeeded: m.0))]))
        }
        var vocab: [String: UInt32] = [:]
        for (k, v) in wordToId { vocab[k.value] = v }
        return Result(vocab: vocab, merges: mergeStrings, specialTokens: specialTokens)
    }

    /// Merges every non-overlapping `(a, b)` left to right and reports the pair
    /// count changes (`Word::merge`; the merged pair itself is not reported).
    static func merge(_ w: inout [UInt32], _ a: UInt32, _ b: UInt32, _ replacement: UInt32) -> [(UInt64, Int)] {
        var changes: [(UInt64, Int)] = []
        var i = 0
        while i < w.count {
            if w[i] == a && i + 1 < w.count && w[i + 1] == b {
                if i > 0 {
                    changes.append((PairTable.key(w[i - 1], a), -1))
                    changes.append((PairTable.key(w[i - 1], replacement), 1))
                }
                w[i] = replacement
                w.remove(at: i + 1)
                if i < w.count - 1 {
                    changes.append((PairTable.key(b, w[i + 1]), -1))
                    changes.append((PairTable.key(replacement, w[i + 1]), 1))
                }
            }
            i += 1
        }
        return changes
    }
}
