/// `pre_tokenizers::metaspace::Metaspace` (SentencePiece-style tokenizers): spaces
/// become `replacement` ("▁"), a `replacement` is prepended per `prepend_scheme`, and
/// with `split` the text is cut before each `replacement` (`MergedWithNext`).
///
/// The `first` scheme prepends only to the piece that starts the input, i.e. not to
/// text following an added token. A piece is recognised as the start when it begins
/// at the start of the string it is a slice of, which holds for the pipeline of
/// `Tokenizer` without a normalizer (with one, every normalized piece is a new string).
public struct MetaspacePreTokenizer: PreTokenizer {
    public enum PrependScheme: String, Sendable {
        case always, first, never
    }

    public let replacement: Unicode.Scalar
    public let prependScheme: PrependScheme
    public let split: Bool

    public init(replacement: Unicode.Scalar = "\u{2581}", prependScheme: PrependScheme = .always, split: Bool = true) {
        self.replacement = replacement
        self.prependScheme = prependScheme
        self.split = split
    }

    init(json: JSONObject) throws {
        let r = (json.optionalString("replacement") ?? "\u{2581}").unicodeScalars
        guard r.count == 1, let scalar = r.first else {
            throw TokenizerError.malformedJSON(file: json.file, detail: "Metaspace replacement is not one character")
        }
        var scheme = PrependScheme.always
        if let name = json.optionalString("prepend_scheme") {
            guard let s = PrependScheme(rawValue: name) else {
                throw TokenizerError.unsupportedOption(component: "Metaspace", option: "prepend_scheme '\(name)'", file: json.file)
            }
            scheme = s
        } else if !json.bool("add_prefix_space", default: true) {
            scheme = .never  // The older serialization's `add_prefix_space: false`.
        }
        self.init(replacement: scalar, prependScheme: scheme, split: json.bool("split", default: true))
    }

    public func preTokenize(_ pieces: [Substring]) -> [Substring] {
        var out: [Substring] = []
        out.reserveCapacity(pieces.count)
        for piece in pieces {
            var s = String.UnicodeScalarView()
            let startsInput = piece.startIndex == piece.base.startIndex
            for u in piece.unicodeScalars { s.append(u == " " ? replacement : u) }
            let prepend: Bool
            switch prependScheme {
            case .always: prepend = true
            case .first: prepend = startsInput
            case .never: prepend = false
            }
            if prepend && s.first != replacement { s.insert(replacement, at: s.startIndex) }
            let text = String(s)
            if !split {
                if !text.isEmpty { out.append(Substring(text)) }
                continue
            }
            // Cut before every replacement (`MergedWithNext`): each piece starts with one.
            var current = String.UnicodeScalarView()
            for u in text.unicodeScalars {
                if u == replacement && !current.isEmpty {
                    out.append(Substring(String(current)))
                    current = String.UnicodeScalarView()
                }
                current.append(u)
            }
            if !current.isEmpty { out.append(Substring(String(current))) }
        }
        return out
    }
}
