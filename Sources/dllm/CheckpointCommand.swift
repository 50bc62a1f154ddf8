import ArgumentParser
import DLLMGGUF
import DLLMImport
import DLLMModels
import DLLMTraining
import Foundation

/// `dllm checkpoint consolidate DIR`: one Hugging Face `model.safetensors` (and a
/// full `optimizer.safetensors`) from a checkpoint written by several ranks.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Work with checkpoints.", subcommands: [Consolidate.self, MergeLoRA.self])

    struct Consolidate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write model.safetensors from a sharded checkpoint (any world size).")
        @Argument(help: "A checkpoint folder holding sharding.json and shard files.") var directory: String

        func run() throws {
            let url = URL(fileURLWithPath: directory)
            try CheckpointManager.consolidate(url)
            print("wrote \(url.appendingPathComponent("model.safetensors").path)")
        }
    }

    /// `dllm checkpoint merge-lora BASE ADAPTER OUT`: W + s·B·A into a new Hugging Face folder.
    struct MergeLoRA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge-lora", abstract: "Merge a PEFT LoRA adapter into its base: W + (lora_alpha/r)·B·A (α/√r with rsLoRA).")
        @Argument(help: "The base model folder (config.json, model.safetensors), or the llama/qwen2 .gguf file the adapter was trained over (dequantised, then merged).") var base: String
        @Argument(help: "The adapter folder (adapter_config.json, adapter_model.safetensors), e.g. a LoRA run's checkpoint.") var adapter: String
        @Argument(help: "Output folder for the merged model.") var output: String

        func run() throws {
            if GGUFTrainingBase.isGGUF(base) {
                // The merged matrices have no block form: the folder is float32, with the GGUF's tokenizer.
                let summary = try GGUFFolderConverter.convert(try GGUFFile(path: base), to: URL(fileURLWithPath: output),
                                                              adapter: URL(fileURLWithPath: adapter))
                print("merged \(summary.mergedLayers) adapted layers into \(output) (the GGUF dequantised to float32)")
                return
            }
            let count = try LoRAMerge.mergeFolder(base: URL(fileURLWithPath: base), adapter: URL(fileURLWithPath: adapter),
                                                  output: URL(fileURLWithPath: output))
            print("merged \(count) adapted layers into \(output)")
        }
    }
}
