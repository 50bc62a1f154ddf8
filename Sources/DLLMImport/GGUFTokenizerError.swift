/// Why a GGUF file's tokenizer metadata could not be turned into a Hugging Face tokenizer.
///
/// Every case names the source (the GGUF file, or a label given by the caller) and the
/// metadata key involved.
public enum GGUFTokenizerError: Error, CustomStringConvertible, Equatable {
    /// A SentencePiece vocabulary of an architecture transformers builds differently
    /// (Gemma respells and reorders it, Phi-3 normalizes instead of pre-tokenizing).
    case unsupportedArchitecture(architecture: String, model: String, source: String)
    /// A key the tokenizer needs is absent.
    case missingKey(key: String, source: String)
    /// A key holds a value of another type than the GGUF convention gives it.
    case wrongType(key: String, expected: String, found: String, source: String)
    /// `tokenizer.ggml.model` names a tokenizer this package does not convert.
    case unsupportedModel(model: String, source: String)
    /// A token id key (`tokenizer.ggml.bos_token_id`, …) points outside the vocabulary.
    case tokenIdOutOfRange(key: String, id: Int, vocabularySize: Int, source: String)
    /// An array has another length than the token list it describes.
    case lengthMismatch(key: String, count: Int, expected: Int, source: String)
    /// A merge is not two tokens separated by one space.
    case malformedMerge(index: Int, merge: String, source: String)
    /// The vocabulary and merges do not make a valid BPE model (a merge's part or
    /// result missing from the vocabulary, …).
    case invalidTokenizer(detail: String, source: String)

    public var description: String {
        switch self {
        case let .missingKey(key, source):
            return "GGUF tokenizer: '\(source)' lacks the metadata key '\(key)'. Hint: the file may have been written without a tokenizer (llama.cpp's convert_hf_to_gguf.py writes one)."
        case let .wrongType(key, expected, found, source):
            return "GGUF tokenizer: metadata key '\(key)' of '\(source)' is \(found), expected \(expected). Hint: the file does not follow llama.cpp's tokenizer conventions."
        case let .unsupportedModel(model, source):
            return "GGUF tokenizer: tokenizer.ggml.model '\(model)' of '\(source)' is not supported. Supported: 'gpt2' (byte-level BPE: GPT-2, SmolLM, LLaMA-3, Qwen2) and 'llama' (SentencePiece BPE with byte fallback: LLaMA-2, Mistral, TinyLlama). WordPiece ('bert'), Unigram ('t5'), RWKV and Gemma-4 vocabularies are not converted."
        case let .unsupportedArchitecture(architecture, model, source):
            return "GGUF tokenizer: the '\(model)' vocabulary of '\(source)' belongs to architecture '\(architecture)', whose tokenizer transformers builds its own way; it is not supported (Gemma, Gemma-2/3 and Phi-3 SentencePiece vocabularies)."
        case let .tokenIdOutOfRange(key, id, size, source):
            return "GGUF tokenizer: metadata key '\(key)' of '\(source)' is \(id), outside the vocabulary of \(size) tokens."
        case let .lengthMismatch(key, count, expected, source):
            return "GGUF tokenizer: metadata key '\(key)' of '\(source)' has \(count) entries, but tokenizer.ggml.tokens has \(expected)."
        case let .malformedMerge(index, merge, source):
            return "GGUF tokenizer: tokenizer.ggml.merges[\(index)] of '\(source)' is \(merge.debugDescription), not two tokens separated by one space."
        case let .invalidTokenizer(detail, source):
            return "GGUF tokenizer: the vocabulary of '\(source)' does not make a BPE tokenizer: \(detail)"
        }
    }
}
