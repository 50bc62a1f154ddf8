import DLLMCompute
import DLLMGGUF
import DLLMImport
import DLLMModels
import DLLMTokenizers
import Foundation

/// The model and tokenizer a training run starts from: a model folder, or (LoRA only) a `.gguf`
/// file whose quantised matrices are the frozen base as they are (docs/qlora.md).
extension TrainingRun {
    struct LoadedModel {
        let model: any LanguageModel<Float>
        let config: [String: Any]
        let randomlyInitialized: Bool
        /// The GGUF file the model came from (its tokenizer is read from it too).
        let gguf: GGUFFile?
    }

    static func loadModel(_ config: TrainingConfig) throws -> LoadedModel {
        if config.modelIsGGUF {
            guard config.lora != nil else {
                throw TrainingError.configuration("model_name_or_path \(config.modelNameOrPath) \(TrainingConfig.ggufNeedsLoRA)")
            }
            let file = try GGUFFile(path: config.modelNameOrPath)
            let (model, json) = try GGUFTrainingBase.load(file)
            return LoadedModel(model: model, config: json.foundationObject as? [String: Any] ?? [:], randomlyInitialized: false, gguf: file)
        }
        // A LoRA run's quantised frozen base is quantised tensor by tensor as it loads: its float
        // matrices are never resident (docs/qlora.md).
        var quantizedBase: FrozenQuantizedMatrix.QuantizeTarget?
        if config.lora != nil, case .quantize(let target)? = config.baseQuantization { quantizedBase = target }
        let loaded = try ModelFolder.load(URL(fileURLWithPath: config.modelNameOrPath), as: Float.self, seed: UInt64(config.seed),
                                          quantizedBase: quantizedBase)
        return LoadedModel(model: loaded.model, config: loaded.config, randomlyInitialized: loaded.randomlyInitialized, gguf: nil)
    }

    /// `tokenizer_name_or_path`, else the model folder's tokenizer, else the GGUF's own (with its chat
    /// template), written once to `output_dir/gguf-tokenizer` so that every checkpoint carries it.
    static func loadTokenizer(_ config: TrainingConfig, gguf: GGUFFile?) throws -> BPETextTokenizer {
        if let path = config.tokenizerNameOrPath { return try BPETextTokenizer(path: path) }
        guard let gguf else { return try BPETextTokenizer(path: config.modelNameOrPath) }
        let folder = URL(fileURLWithPath: config.outputDir).appendingPathComponent("gguf-tokenizer")
        return try GGUFTokenizerImport.textTokenizer(of: gguf, writingTo: folder)
    }
}
