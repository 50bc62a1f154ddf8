/// Errors raised while loading or running a tokenizer.
///
/// Every case names the file (or model folder) involved and carries a hint on
/// how to fix it, so a user seeing the message knows what to do next.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// A file or folder that should exist does not.
    case fileNotFound(path: String)
    /// The file is not valid JSON (or not the JSON shape expected).
    case malformedJSON(file: String, detail: String)
    /// A pipeline component has a `"type"` this package does not implement.
    case unsupportedComponent(kind: String, type: String, file: String)
    /// A component is recognized but one of its options is not supported.
    case unsupportedOption(component: String, option: String, file: String)
    /// A required field is absent.
    case missingField(field: String, file: String)
    /// A merge refers to a token that is not in the vocabulary.
    case mergeTokenNotInVocabulary(token: String, file: String)
    /// A line of `merges.txt` (1-based) could not be parsed.
    case badMergesLine(line: Int, file: String)
    /// A regular expression in a `Split` pre-tokenizer did not compile.
    case badRegex(pattern: String, file: String)
    /// A model folder's chat template is missing or does not parse (unsupported Jinja or bad syntax).
    case unknownChatTemplate(folder: String, detail: String)
    /// Input that a command could not parse (for example a non-numeric id).
    case invalidInput(detail: String)
    /// Training was asked for something impossible.
    case invalidTrainingConfiguration(detail: String)
    /// An id to decode that names no token: negative, or neither in the vocabulary nor an added token.
    case unknownTokenID(id: Int64, position: Int, vocabSize: Int)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "tokenizer: no such file or folder '\(path)'. Hint: pass a tokenizer.json, a folder holding one, or a folder with vocab.json and merges.txt."
        case .malformedJSON(let file, let detail):
            return "tokenizer: '\(file)' is not valid tokenizer JSON (\(detail)). Hint: re-export it with the Python `tokenizers` package (`Tokenizer.save`)."
        case .unsupportedComponent(let kind, let type, let file):
            return "tokenizer: \(kind) type '\(type)' in '\(file)' is not supported. Hint: supported are normalizers NFC/BertNormalizer/Sequence, pre-tokenizers ByteLevel/Split/Digits/Metaspace/BertPreTokenizer/Sequence, models BPE/WordPiece, decoders ByteLevel/Replace/ByteFallback/Fuse/Strip/WordPiece/Sequence, post-processors TemplateProcessing/ByteLevel/Sequence."
        case .unsupportedOption(let component, let option, let file):
            return "tokenizer: \(component) option \(option) in '\(file)' is not supported. Hint: only byte-level BPE tokenizers (GPT-2, LLaMA-3, Qwen2 style) are handled."
        case .missingField(let field, let file):
            return "tokenizer: '\(file)' lacks the field '\(field)'. Hint: the file may be truncated or not a tokenizer.json."
        case .mergeTokenNotInVocabulary(let token, let file):
            return "tokenizer: merge part '\(token)' in '\(file)' is not in the vocabulary. Hint: vocab and merges must come from the same tokenizer."
        case .badMergesLine(let line, let file):
            return "tokenizer: line \(line) of '\(file)' is not a merge ('left right'). Hint: merges.txt has one pair per line, after an optional '#version' header."
        case .badRegex(let pattern, let file):
            return "tokenizer: the Split regex \(pattern.debugDescription) in '\(file)' does not compile. Hint: check the pattern's escaping in the JSON."
        case .unknownChatTemplate(let folder, let detail):
            return "chat template: the chat_template of '\(folder)' cannot be used (\(detail)). Hint: DLLMJinja interprets the Jinja subset that chat templates use; docs/data-and-tokenizers.md lists it."
        case .invalidInput(let detail):
            return "tokenizer: invalid input: \(detail)"
        case .invalidTrainingConfiguration(let detail):
            return "tokenizer training: \(detail)"
        case .unknownTokenID(let id, let position, let vocabSize):
            let what = id < 0 ? "is negative" : "names no token (the vocabulary has \(vocabSize) ids)"
            return "tokenizer: token id \(id) at position \(position) \(what). Hint: the ids must come from this tokenizer (a model's vocabulary can be larger than its tokenizer's)."
        }
    }
}
