/// The pre-tokenizer regexes transformers picks by a GGUF's `tokenizer.ggml.pre`
/// (`integrations/gguf/gguf_tokenizer_mapping.py`, `GGUF_PRE_TOKENIZER_SPLITS`).
///
/// A name found here gives `Sequence[Split(regex, Isolated), ByteLevel(use_regex: false)]`
/// (`set_split_regex`); any other name keeps `GPT2Tokenizer`'s
/// `ByteLevel(add_prefix_space: false)` with GPT-2's own regex.
enum GGUFPreTokenizers {
    /// LLaMA-3's split: digits in runs of up to three.
    static let llama3 =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Qwen2's split (transformers `models/qwen2/tokenization_qwen2.py` `PRETOKENIZE_REGEX`): single digits.
    static let qwen2 =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Qwen3.5's split (`models/qwen3_5/tokenization_qwen3_5.py`): marks join letters.
    static let qwen35 =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Mistral's Tekken split.
    static let tekken =
        #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"#
        + #"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"#
        + #"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// GPT-4o's split (also LLaMA-4's).
    static let gpt4o =
        #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#
        + #"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#
        + #"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// `tokenizer.ggml.pre` → split regex.
    static let splits: [String: String] = [
        "llama3": llama3, "llama-v3": llama3, "llama-bpe": llama3, "falcon3": llama3, "falcon-h1": llama3,
        "pixtral": llama3, "midm-2.0": llama3, "lfm2": llama3, "jina-v5-nano": llama3, "dbrx": llama3,
        "smaug-bpe": llama3,
        "tekken": tekken,
        "qwen2": qwen2, "deepseek-r1-qwen": qwen2, "kormo": qwen2, "f2llmv2": qwen2, "megrez": qwen2,
        "qwen35": qwen35,
        "gpt-4o": gpt4o, "llama4": gpt4o, "kanana2": gpt4o, "talkie": gpt4o, "minimax-m2": gpt4o,
    ]

    /// The `tokenizer.json` `pre_tokenizer` value for a `tokenizer.ggml.pre` name.
    static func json(pre: String?) -> String {
        guard let pre, let regex = splits[pre] else {
            return #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#
        }
        return #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "#
            + JSONText.string(regex)
            + #"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}"#
    }
}
