/// Splits normalized text into the "words" the model tokenizes independently.
///
/// Mirrors the Rust crate's `pre_tokenizers` module. Pieces are substrings;
/// every stage splits each piece further (`PreTokenizedString::split`), and
/// empty pieces are dropped.
public protocol PreTokenizer {
    func preTokenize(_ pieces: [Substring]) -> [Substring]
}

/// The `"type"` strings of `tokenizer.json` pre-tokenizers handled here.
public enum PreTokenizerType: String {
    case byteLevel = "ByteLevel"
    case split = "Split"
    case digits = "Digits"
    case sequence = "Sequence"
    case metaspace = "Metaspace"
    case bert = "BertPreTokenizer"
}

/// `SplitDelimiterBehavior` of the Rust crate.
public enum SplitDelimiterBehavior: String {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

enum PreTokenizerFactory {
    static func make(_ json: JSONObject) throws -> PreTokenizer {
        let typeName = try json.type()
        guard let type = PreTokenizerType(rawValue: typeName) else {
            throw TokenizerError.unsupportedComponent(kind: "pre-tokenizer", type: typeName, file: json.file)
        }
        switch type {
        case .byteLevel:
            return ByteLevelPreTokenizer(
                addPrefixSpace: json.bool("add_prefix_space", default: true),
                trimOffsets: json.bool("trim_offsets", default: true),
                useRegex: json.bool("use_regex", default: true))
        case .split:
            return try SplitPreTokenizer(json: json)
        case .digits:
            return DigitsPreTokenizer(individualDigits: json.bool("individual_digits", default: false))
        case .sequence:
            return SequencePreTokenizer(preTokenizers: try json.objects("pretokenizers").map(make))
        case .metaspace:
            return try MetaspacePreTokenizer(json: json)
        case .bert:
            return BertPreTokenizer()
        }
    }
}

/// Applies a segmentation to a piece (`NormalizedString::split`): the
/// behavior decides where matches go, then empty pieces are dropped.
func splitPiece(_ piece: Substring, _ segments: [(Range<Int>, Bool)],
                _ behavior: SplitDelimiterBehavior, into out: inout [Substring]) {
    // (range, remove) after applying the behavior.
    var splits: [(Range<Int>, Bool)] = []
    splits.reserveCapacity(segments.count)
    switch behavior {
    case .isolated:
        for (r, _) in segments { splits.append((r, false)) }
    case .removed:
        splits = segments
    case .contiguous:
        var previousMatch = false
        for (r, isMatch) in segments {
            if isMatch == previousMatch, let last = splits.last {
                splits[splits.count - 1] = (last.0.lowerBound..<r.upperBound, false)
            } else {
                splits.append((r, false))
            }
            previousMatch = isMatch
        }
    case .mergedWithPrevious:
        var previousMatch = false
        for (r, isMatch) in segments {
            if isMatch && !previousMatch, let last = splits.last {
                splits[splits.count - 1] = (last.0.lowerBound..<r.upperBound, false)
            } else {
                splits.append((r, false))
            }
            previousMatch = isMatch
        }
    case .mergedWithNext:
        var previousMatch = false
        for (r, isMatch) in segments.reversed() {
            if isMatch && !previousMatch, let last = splits.last {
                splits[splits.count - 1] = (r.lowerBound..<last.0.upperBound, false)
            } else {
                splits.append((r, false))
            }
            previousMatch = isMatch
        }
        splits.reverse()
    }
    let utf8 = piece.utf8
    for (r, remove) in splits where !remove && !r.isEmpty {
        let a = utf8.index(utf8.startIndex, offsetBy: r.lowerBound)
        let b = utf8.index(a, offsetBy: r.count)
        out.append(Substring(utf8[a..<b]))
    }
}

/// `pre_tokenizers::split::Split`: splits on a regex or literal with a delimiter behavior.
public struct SplitPreTokenizer: PreTokenizer {
    let pattern: SplitPattern
    public let behavior: SplitDelimiterBehavior
    public let invert: Bool

    init(json: JSONObject) throws {
        let patternObject = try json.object("pattern")
        var base: SplitPattern
        if let regex = patternObject.optionalString("Regex") {
            base = try RegexSplitPattern(pattern: regex, file: json.file)
        } else if let literal = patternObject.optionalString("String") {
            base = LiteralSplitPattern(needle: Array(literal.utf8))
        } else {
            throw TokenizerError.missingField(field: "pattern.Regex or pattern.String", file: json.file)
        }
        let behaviorName = try json.string("behavior")
        guard let behavior = SplitDelimiterBehavior(rawValue: behaviorName) else {
            throw TokenizerError.unsupportedOption(component: "Split", option: "behavior '\(behaviorName)'", file: json.file)
        }
        invert = json.bool("invert", default: false)
        self.behavior = behavior
        pattern = invert ? InvertedSplitPattern(base: base) : base
    }

    public func preTokenize(_ pieces: [Substring]) -> [Substring] {
        var out: [Substring] = []
        out.reserveCapacity(pieces.count * 4)
        for piece in pieces {
            splitPiece(piece, pattern.findMatches(in: piece), behavior, into: &out)
        }
        return out
    }
}

/// `pre_tokenizers::digits::Digits`: isolates each numeric character, or runs of them.
public struct DigitsPreTokenizer: PreTokenizer {
    public let individualDigits: Bool
    private let pattern = PredicateSplitPattern(predicate: CharClasses.isNumeric)

    public func preTokenize(_ pieces: [Substring]) -> [Substring] {
        var out: [Substring] = []
        for piece in pieces {
            splitPiece(piece, pattern.findMatches(in: piece),
                       individualDigits ? .isolated : .contiguous, into: &out)
        }
        return out
    }
}

/// `pre_tokenizers::sequence::Sequence`.
public struct SequencePreTokenizer: PreTokenizer {
    public let preTokenizers: [PreTokenizer]
    public func preTokenize(_ pieces: [Substring]) -> [Substring] {
        preTokenizers.reduce(pieces) { $1.preTokenize($0) }
    }
}

/// `pre_tokenizers::byte_level::ByteLevel`: optionally prefixes a space,
/// splits with GPT-2's regex (`use_regex`) and maps every byte to its
/// byte-level character. `trim_offsets` only affects offsets, which this
/// package does not report.
public struct ByteLevelPreTokenizer: PreTokenizer {
    public let addPrefixSpace: Bool
    public let trimOffsets: Bool
    public let useRegex: Bool
    private let regex = FastRegex(kind: .gpt2)

    public init(addPrefixSpace: Bool = false, trimOffsets: Bool = true, useRegex: Bool = true) {
        self.addPrefixSpace = addPrefixSpace
        self.trimOffsets = trimOffsets
        self.useRegex = useRegex
    }

    /// The splitting half of `pre_tokenize` (prefix space + regex) without the
    /// byte mapping, for a model that consumes raw bytes directly.
    public func split(_ pieces: [Substring], into out: inout [Substring]) {
        for var piece in pieces {
            if addPrefixSpace && piece.utf8.first != UInt8(ascii: " ") {
                piece = Substring(" " + piece)
            }
            if !useRegex {
                if !piece.isEmpty { out.append(piece) }
                continue
            }
            let utf8 = piece.utf8
            var ranges: [Range<Int>] = []
            piece.withUTF8 { regex.forEachMatch($0) { ranges.append($0) } }
            var a = utf8.startIndex
            var offset = 0
            for r in ranges {
                a = utf8.index(a, offsetBy: r.lowerBound - offset)
                let b = utf8.index(a, offsetBy: r.count)
                out.append(Substring(utf8[a..<b]))
                a = b
                offset = r.upperBound
            }
        }
    }

    public func preTokenize(_ pieces: [Substring]) -> [Substring] {
        var words: [Substring] = []
        split(pieces, into: &words)
        return words.map { Substring(ByteLevelAlphabet.encode($0.utf8)) }
    }
}
