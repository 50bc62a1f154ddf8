/// DLLMTokenizers: byte-level BPE and BERT WordPiece tokenizers for dllm, equal id for id to
/// the Python `tokenizers` package on the pipelines of GPT-2, LLaMA-3, Qwen2 and BERT.
///
/// Layout (one file per pipeline stage, as in swift-transformers):
/// - `Normalizer.swift`, `PreTokenizer.swift` (+ `SplitPattern.swift`,
///   `FastRegex.swift`), `BPEModel.swift`, `Decoder.swift`, `PostProcessor.swift`
///   (BERT's stages: `BertNormalizer.swift`, `BertPreTokenizer.swift`, `WordPieceModel.swift`,
///   `WordPieceDecoder.swift`):
///   each a protocol, an enum of the `tokenizer.json` `"type"` strings and a factory.
/// - `AddedVocabulary.swift`: added/special tokens split out before pre-tokenization.
/// - `Tokenizer.swift`, `TokenizerLoader.swift`: the pipeline and its loading from
///   `tokenizer.json` or `vocab.json` + `merges.txt`.
/// - `BPETrainer.swift`, `TokenizerWriter.swift`: training and saving.
/// - `ChatTemplate.swift`: chat templates, interpreted by DLLMJinja as transformers renders them.
///
/// Usage:
/// ```swift
/// let tok = try Tokenizer.load(from: "path/to/model")
/// let ids = tok.encode("Hello world")          // post-processor applied
/// let text = tok.decode(ids, skipSpecialTokens: true)
/// let prompt = try ChatTemplate.load(modelFolder: "path/to/model")
///     .render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
/// ```
public enum DLLMTokenizers {}
