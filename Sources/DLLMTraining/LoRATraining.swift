import DLLMCheckpoint
import DLLMDistributed
import DLLMModels
import Foundation

/// LoRA in a training run: the model the strategy sees is the adapters alone (``LoRAModel``), and
/// each checkpoint folder is a PEFT adapter folder plus the training state.
enum LoRATraining {
    /// `model` with fresh adapters when `options` ask for LoRA (a LLaMA-family model), else `model`.
    /// With `baseQuantization` the frozen base's matrices are quantised (docs/qlora.md; when
    /// `ModelFolder.load(quantizedBase:)` has not already done so as it read them) and the training
    /// pass multiplies by them; no float copy of them is kept. With `gguf` the loader has set the
    /// base already (``GGUFTrainingBase``).
    static func wrap(_ model: any LanguageModel<Float>, options: LoRAConfiguration?, seed: UInt64,
                     baseQuantization: TrainingConfig.BaseQuantization? = nil,
                     log: (String) -> Void) throws -> any LanguageModel<Float> {
        guard let options else { return model }
        guard let base = model as? LlamaModel<Float> else {
            throw TrainingError.configuration("lora: adapters are available for the LLaMA family (llama, qwen2, qwen3, a2d-*, llada), not \(model.architecture.modelType)")
        }
        switch baseQuantization {
        case nil: break
        case .quantize(let target)?:
            if base.frozenBase == nil {
                // A base loaded in float: quantise it, then give the float matrices' pages back.
                let frozen = try base.frozenBaseCopy(target)
                for range in base.floatSlots(heldBy: frozen) {
                    MemoryRelease.discard(base.parameters.pointer + range.lowerBound, count: range.count)
                }
                base.frozenBase = frozen
            }
            let frozen = base.frozenBase!
            log(String(format: "base: frozen and quantised as %@ (%.1f MiB of matrices; their float copies are not kept)",
                       target.rawValue, Double(frozen.byteCount) / 1_048_576))
        case .gguf?:
            // Set by GGUFTrainingBase as the file loaded: its own blocks, never a float copy.
            let held = base.frozenBase.map { String(format: "%.1f MiB of matrices in the file's blocks", Double($0.byteCount) / 1_048_576) }
            log("base: frozen, a GGUF's quantised matrices as they are (\(held ?? "none in Q4_0/Q4_1/Q8_0: float32"); other types dequantised to float32)")
        }
        let lora = try LoRAModel(base: base, configuration: options, seed: seed)
        log(String(format: "lora: r %d, alpha %g%@, dropout %g, %d adapted layers, %d trainable parameters (%.2f%% of %d; base frozen)",
                   options.r, options.loraAlpha, options.useRSLoRA ? " (rsLoRA)" : "", options.loraDropout, lora.adapters.modules.count,
                   lora.parameterCount, 100 * Double(lora.parameterCount) / Double(base.parameterCount), base.parameterCount))
        return lora
    }

    /// Turns the strategy's save of the adapter parameters into PEFT's layout: `model.safetensors`
    /// (the adapters, already under PEFT's names) becomes `adapter_model.safetensors`, the base's
    /// `config.json` is dropped (the folder is not a whole model) and `adapter_config.json` is written.
    /// An FSDP checkpoint that is not consolidated keeps its adapters in the parameter shards.
    static func finishCheckpoint(_ folder: URL, adapters: LoRAAdapters<Float>, baseModel: String) throws {
        let fm = FileManager.default
        let weights = folder.appendingPathComponent(SafeTensorsCheckpoint.singleFileName)
        if fm.fileExists(atPath: weights.path) {
            try fm.moveItem(at: weights, to: folder.appendingPathComponent(LoRAAdapterFolder.weightsFileName))
        }
        for name in ["config.json", "generation_config.json"] { try? fm.removeItem(at: folder.appendingPathComponent(name)) }
        try LoRAAdapterFolder.writeConfig(adapters, baseModel: baseModel, to: folder)
    }
}
