import DLLMCompute
import DLLMGGUF
import DLLMImport
import DLLMJSON
import DLLMModels
import DLLMTokenizers
import Foundation

/// A model folder ready to turn text into text: the model (inference path), its
/// tokenizer, its special tokens and the sampler its kind calls for. What
/// `dllm generate` and `dllm chat` stand on.
public final class TextGenerator {
    /// Which sampler runs: `auto` is diffusion when the model has a mask token, else autoregressive.
    public enum Mode: String, Sendable, CaseIterable {
        case auto, diffusion, ar
    }

    public let folder: String
    public let model: any InferenceModel<Float>
    public let modelType: String
    public let tokenizer: BPETextTokenizer
    public let maskID: Int32?
    public let eosID: Int32?
    /// The resolved sampler kind (never `auto`).
    public let mode: Mode
    /// Ids that end an answer when decoding: EOS and the chat templates' end-of-turn tokens.
    public let stopIDs: Set<Int32>
    /// True when the folder had no weights (random initialisation).
    public let randomlyInitialized: Bool

    /// Loads `folder` (config.json, weights, tokenizer files) or a llama/qwen2 `.gguf`
    /// file; `tokenizerPath` overrides where the tokenizer is read from.
    /// A GGUF file's Q4_0/Q4_1/Q8_0 matrices stay quantized (``GGUFQuantizedImport``) unless
    /// `dequantizeGGUF` asks for the fp32 model.
    /// `adapter`: a PEFT LoRA adapter folder merged into the base at load (``LoRAMerge``).
    public init(folder: String, tokenizerPath: String? = nil, mode: Mode = .auto, seed: UInt64 = 0, dequantizeGGUF: Bool = false,
                adapter: String? = nil) throws {
        self.folder = folder
        // W + s·B·A has no block form: a GGUF base under an adapter loads dequantised.
        let loaded = try Self.loadModel(folder, seed: seed, dequantizeGGUF: dequantizeGGUF || adapter != nil)
        if let adapter { try LoRAMerge.merge(URL(fileURLWithPath: adapter), into: loaded.model) }
        model = inferenceModel(loaded.model)
        randomlyInitialized = loaded.randomlyInitialized
        modelType = loaded.config["model_type"]?.stringValue ?? "?"
        tokenizer = try Self.loadTokenizer(model: folder, gguf: loaded.gguf, override: tokenizerPath)
        let V = loaded.model.vocabularySize
        func configID(_ key: String) -> Int32? {
            let value = loaded.config[key]
            return (value?.intValue ?? value?.arrayValue?.first?.intValue).flatMap { Int32(exactly: $0) }
        }
        var mask = configID("mask_token_id") ?? tokenizer.maskTokenID
        if mask == nil, modelType == "llada", V > 126_336 { mask = 126_336 }  // LLaDA's default
        if let m = mask, m < 0 || Int(m) >= V { mask = nil }
        maskID = mask
        eosID = tokenizer.eosTokenID ?? configID("eos_token_id")
        switch mode {
        case .auto:
            // A bidirectional model (LLaDA, dLLM's a2d-*) is only sampled by diffusion.
            if let spec = loaded.model.architecture as? LlamaSpec, spec.bidirectional, mask == nil {
                throw SamplingError.noMaskToken(model: folder)
            }
            self.mode = mask == nil ? .ar : .diffusion
        case .diffusion:
            guard mask != nil else { throw SamplingError.noMaskToken(model: folder) }
            self.mode = .diffusion
        case .ar: self.mode = .ar
        }
        var stops = Set<Int32>()
        if let eosID { stops.insert(eosID) }
        for name in ["<|eot_id|>", "<|im_end|>", "<|endoftext|>"] {
            if let id = tokenizer.tokenizer.tokenToId(name) { stops.insert(Int32(id)) }
        }
        stopIDs = stops
    }

    /// The mask token's text, for `InfillTemplate`.
    public var maskToken: String? { maskID.flatMap { tokenizer.tokenizer.idToToken(UInt32($0)) } }

    /// A plain prompt's ids (with the tokenizer's special tokens, as `tokenizer(prompt)` gives them),
    /// or, with `chat`, the prompt as one user turn through the chat template.
    public func promptTokens(_ text: String, chat: Bool) throws -> [Int32] {
        if chat { return try chatTokens([ChatMessage(role: "user", content: text)]) }
        return tokenizer.encode(text, addSpecialTokens: true)
    }

    /// A conversation rendered by the folder's chat template with the assistant's
    /// generation prompt, then tokenized without adding special tokens again.
    public func chatTokens(_ messages: [ChatMessage]) throws -> [Int32] {
        tokenizer.encode(try tokenizer.renderChat(messages, addGenerationPrompt: true), addSpecialTokens: false)
    }

    /// An infill text's ids: BOS when the tokenizer adds one, then the pieces and masks.
    public func infillTokens(_ text: String) throws -> [Int32] {
        guard let maskID else { throw SamplingError.noMaskToken(model: folder) }
        let template = try InfillTemplate(parsing: text, maskToken: maskToken)
        var prefix: [Int32] = []
        if let bos = tokenizer.bosTokenID, tokenizer.encode("a", addSpecialTokens: true).first == bos { prefix = [bos] }
        return template.tokens(prefix: prefix, maskID: maskID) { tokenizer.encode($0, addSpecialTokens: false) }
    }

    /// The answer's text: up to the first stop token, special tokens skipped. A sampled id the
    /// tokenizer does not know (the model's vocabulary can be larger) is written as U+FFFD.
    public func decodeAnswer(_ ids: [Int32]) -> String {
        let end = ids.firstIndex(where: { stopIDs.contains($0) }) ?? ids.count
        return tokenizer.decode(Array(ids[..<end]), skipSpecialTokens: true, replacingUnknown: true)
    }

    /// Whole-text decoding (infill results), special tokens skipped, unknown ids as U+FFFD.
    public func decode(_ ids: [Int32]) -> String { tokenizer.decode(ids, skipSpecialTokens: true, replacingUnknown: true) }

    public func diffusionSampler() throws -> MDLMSampler<Float> {
        guard let maskID else { throw SamplingError.noMaskToken(model: folder) }
        return try MDLMSampler(model: model, maskID: maskID, eosID: eosID)
    }

    /// Dream's sampler (`--sampler dream`) over the folder's mask token.
    public func dreamSampler() throws -> DreamSampler<Float> {
        guard let maskID else { throw SamplingError.noMaskToken(model: folder) }
        return try DreamSampler(model: model, maskID: maskID)
    }

    /// The block-diffusion sampler; without `stopAtEOS` it never stops before `gen_length`.
    public func bd3lmSampler(stopAtEOS: Bool = true) throws -> BD3LMSampler<Float> {
        guard let maskID else { throw SamplingError.noMaskToken(model: folder) }
        return try BD3LMSampler(model: model, maskID: maskID, eosID: stopAtEOS ? eosID : nil)
    }

    public func arSampler() -> ARSampler<Float> { ARSampler(model: model, eosID: eosID) }

    /// A model folder, or a `.gguf` file (kept open for its tokenizer).
    static func loadModel(_ path: String, seed: UInt64, dequantizeGGUF: Bool = false)
        throws -> (model: any LanguageModel<Float>, config: JSONValue, randomlyInitialized: Bool, gguf: GGUFFile?) {
        if isGGUF(path) {
            let file = try GGUFFile(path: path)
            let imported = dequantizeGGUF ? try GGUFModelImport.load(file) : try GGUFQuantizedImport.load(file)
            return (imported.model, JSONValue(foundationObject: imported.config) ?? .object([]), false, file)
        }
        let loaded = try ModelFolder.load(URL(fileURLWithPath: path), as: Float.self, seed: seed)
        return (loaded.model, loaded.configJSON, loaded.randomlyInitialized, nil)
    }

    /// A path names a GGUF file when it is a regular file ending in `.gguf`.
    public static func isGGUF(_ path: String) -> Bool { GGUFTrainingBase.isGGUF(path) }

    /// The tokenizer: `override` when given, else the folder's files, else (a GGUF file)
    /// the file's tokenizer metadata converted by `GGUFTokenizerImport`.
    static func loadTokenizer(model: String, gguf: GGUFFile?, override: String?) throws -> BPETextTokenizer {
        if let override { return try BPETextTokenizer(path: override) }
        guard let gguf else { return try BPETextTokenizer(path: model) }
        // BPETextTokenizer reads tokenizer.json and tokenizer_config.json (chat template,
        // special tokens) from a folder at init; a scratch folder serves and is removed.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-gguf-tokenizer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        return try GGUFTokenizerImport.textTokenizer(of: gguf, writingTo: scratch)
    }
}
