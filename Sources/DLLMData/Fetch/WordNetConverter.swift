import Foundation

/// Converts WordNet 3.0's database files (Debian `wordnet-base`: `/usr/share/wordnet/data.*` and
/// `index.*`) into pretraining text and a definition SFT set.
///
/// This is an honest conversion of real dictionary content: every answer is a WordNet gloss as
/// written by its lexicographers, nothing is generated. Format facts (`wndb(5WN)`): license lines
/// start with two spaces; a data line is `offset lex_filenum ss_type w_cnt(hex) word lex_id ... |
/// gloss`, words use `_` for spaces and adjectives may carry a marker such as `(p)`; a gloss is a
/// definition optionally followed by `; "example"` sentences. An index line is
/// `lemma pos synset_cnt p_cnt [ptr...] sense_cnt tagsense_cnt offset...` with the synsets in
/// sense-frequency order.
///
/// - pretraining rows (one per synset): `dog, domestic dog, Canis familiaris (noun): <gloss>`;
/// - SFT rows (one per lemma and part of speech): `What does the noun "dog" mean?` answered by
///   its definitions without the examples, numbered when there are several (at most 8, most
///   frequent first).
/// Every 20th row goes to the `test` split.
public enum WordNetConverter {
    public struct Synset: Equatable, Sendable {
        public var offset: Int
        public var pos: String
        public var words: [String]
        public var gloss: String

        /// The gloss without its example sentences.
        public var definition: String {
            if let range = gloss.range(of: "; \"") { return String(gloss[..<range.lowerBound]).trimmingCharacters(in: .whitespaces) }
            return gloss
        }
    }

    public static let posNames = ["n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"]
    public static let files = [("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")]

    static func cleanWord(_ w: Substring) -> String {
        var word = String(w)
        if word.hasSuffix(")"), let open = word.lastIndex(of: "(") { word = String(word[..<open]) }
        return word.replacingOccurrences(of: "_", with: " ")
    }

    /// Parses a `data.*` file's content.
    public static func synsets(fromData text: String, file: String) throws -> [Synset] {
        var out: [Synset] = []
        for (index, raw) in text.split(separator: "\n").enumerated() where !raw.hasPrefix("  ") {
            guard let bar = raw.firstIndex(of: "|") else {
                throw FetchError.unexpectedContent(file: file, detail: "line \(index + 1) has no '|' before the gloss")
            }
            let fields = raw[..<bar].split(separator: " ")
            guard fields.count >= 4, let offset = Int(fields[0]), let count = Int(fields[3], radix: 16),
                  fields.count >= 4 + 2 * count else {
                throw FetchError.unexpectedContent(file: file, detail: "line \(index + 1) has malformed synset fields")
            }
            let words = (0..<count).map { cleanWord(fields[4 + 2 * $0]) }
            let gloss = raw[raw.index(after: bar)...].trimmingCharacters(in: .whitespaces)
            out.append(Synset(offset: offset, pos: String(fields[2]), words: words, gloss: gloss))
        }
        return out
    }

    /// Parses an `index.*` file: (lemma, synset offsets in sense order).
    public static func index(fromIndex text: String, file: String) throws -> [(lemma: String, offsets: [Int])] {
        var out: [(String, [Int])] = []
        for (index, raw) in text.split(separator: "\n").enumerated() where !raw.hasPrefix("  ") {
            let fields = raw.split(separator: " ")
            guard fields.count >= 4, let synsetCount = Int(fields[2]), synsetCount >= 1, fields.count >= synsetCount + 4 else {
                throw FetchError.unexpectedContent(file: file, detail: "line \(index + 1) has malformed index fields")
            }
            let offsets = fields.suffix(synsetCount).compactMap { Int($0) }
            guard offsets.count == synsetCount else {
                throw FetchError.unexpectedContent(file: file, detail: "line \(index + 1) has non-numeric synset offsets")
            }
            out.append((cleanWord(fields[0]), offsets))
        }
        return out
    }

    public static func pretrainingText(_ s: Synset) -> String {
        "\(s.words.joined(separator: ", ")) (\(posNames[s.pos] ?? s.pos)): \(s.gloss)"
    }

    public static func answer(_ definitions: [String]) -> String {
        let capped = Array(definitions.prefix(8))
        if capped.count == 1 { return capped[0] }
        return capped.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: "\n")
    }

    /// Reads the four `data.*`/`index.*` pairs in `directory` and writes `pretrain/{train,test}.jsonl`
    /// and `sft/{train,test}.jsonl` under `output`.
    public static func convert(wordnetDirectory directory: String, output: String) throws -> [FetchedFile] {
        var pretrainTrain = JSONLinesWriter(), pretrainTest = JSONLinesWriter()
        var sftTrain = JSONLinesWriter(), sftTest = JSONLinesWriter()
        var pretrainCount = 0, sftCount = 0
        for (suffix, pos) in files {
            func read(_ name: String) throws -> String {
                let path = directory + "/" + name
                guard let text = String(data: try FileReading.read(path), encoding: .utf8) else {
                    throw FetchError.unexpectedContent(file: path, detail: "not UTF-8")
                }
                return text
            }
            let synsets = try synsets(fromData: try read("data." + suffix), file: directory + "/data." + suffix)
            var byOffset: [Int: Synset] = [:]
            for s in synsets {
                byOffset[s.offset] = s
                let row: [(String, JSONLinesWriter.Value)] = [("text", .string(pretrainingText(s)))]
                if pretrainCount % 20 == 19 { pretrainTest.append(row) } else { pretrainTrain.append(row) }
                pretrainCount += 1
            }
            for (lemma, offsets) in try index(fromIndex: try read("index." + suffix), file: directory + "/index." + suffix) {
                let definitions = try offsets.map { offset -> String in
                    guard let s = byOffset[offset] else {
                        throw FetchError.unexpectedContent(file: directory + "/index." + suffix,
                                                           detail: "'\(lemma)' points at synset \(offset), absent from data.\(suffix)")
                    }
                    return s.definition
                }
                let question = "What does the \(posNames[pos]!) \"\(lemma)\" mean?"
                let row: [(String, JSONLinesWriter.Value)] = [
                    ("messages", .array([
                        .object([("role", .string("user")), ("content", .string(question))]),
                        .object([("role", .string("assistant")), ("content", .string(answer(definitions)))]),
                    ])),
                ]
                if sftCount % 20 == 19 { sftTest.append(row) } else { sftTrain.append(row) }
                sftCount += 1
            }
        }
        for sub in ["pretrain", "sft"] {
            do {
                try FileManager.default.createDirectory(atPath: output + "/" + sub, withIntermediateDirectories: true)
            } catch {
                throw FetchError.cannotWrite(path: output + "/" + sub, reason: error.localizedDescription)
            }
        }
        try pretrainTrain.write(to: output + "/pretrain/train.jsonl")
        try pretrainTest.write(to: output + "/pretrain/test.jsonl")
        try sftTrain.write(to: output + "/sft/train.jsonl")
        try sftTest.write(to: output + "/sft/test.jsonl")
        return [
            FetchedFile(path: "pretrain/train.jsonl", rows: pretrainTrain.rows, bytes: pretrainTrain.bytes, note: "one synset per row"),
            FetchedFile(path: "pretrain/test.jsonl", rows: pretrainTest.rows, bytes: pretrainTest.bytes, note: "every 20th synset"),
            FetchedFile(path: "sft/train.jsonl", rows: sftTrain.rows, bytes: sftTrain.bytes, note: "What does X mean? -> WordNet definitions"),
            FetchedFile(path: "sft/test.jsonl", rows: sftTest.rows, bytes: sftTest.bytes, note: "every 20th lemma"),
        ]
    }
}
