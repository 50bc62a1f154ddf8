import ArgumentParser
import DLLMCheckpoint
import DLLMGGUF
import DLLMImport
import Foundation

/// `dllm convert gguf FILE.gguf OUT/`: a llama.cpp GGUF model as a Hugging Face folder.
/// `dllm convert a2d IN OUT/`: an autoregressive model as dLLM's A2D diffusion model folder.
/// `dllm convert editflow IN OUT/`: an A2D or LLaDA folder with the Edit Flows heads added.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert", abstract: "Convert models from other formats.", subcommands: [GGUF.self, A2D.self, EditFlow.self])

    enum DType: String, ExpressibleByArgument, CaseIterable {
        case f32, bf16
        var safetensors: SafeTensorsDType { self == .f32 ? .F32 : .BF16 }
    }

    struct GGUF: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gguf",
            abstract: "Write a Hugging Face folder (config.json, model.safetensors dequantised, generation_config.json, "
                + "tokenizer.json, tokenizer_config.json) from a llama/qwen2 GGUF file.")
        @Argument(help: "The .gguf file.") var file: String
        @Argument(help: "Output folder (created if missing).") var output: String
        @Option(help: "Weight dtype: f32 or bf16.") var dtype: DType = .f32
        @Flag(name: .customLong("skip-tokenizer"), help: "Write no tokenizer files.") var skipTokenizer = false

        func run() throws {
            let gguf = try GGUFFile(path: file)
            let summary = try GGUFFolderConverter.convert(gguf, to: URL(fileURLWithPath: output), dtype: dtype.safetensors,
                                                        tokenizer: !skipTokenizer)
            print("\(summary.architecture), \(summary.parameterCount) parameters (\(dtype.rawValue)) → \(output): "
                  + summary.files.joined(separator: ", "))
        }
    }

    struct A2D: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "a2d",
            abstract: "Write dLLM's A2D model folder (model_type a2d-llama/a2d-qwen2/a2d-qwen3, bidirectional attention, "
                + "a mask token in the tokenizer and mask_token_id in config.json) from a llama/qwen2/qwen3 folder or .gguf file.",
            discussion: """
                Mirrors dLLM's pipelines/a2d/convert.py. The weights keep their names; an embedding with no spare row \
                for the mask token grows to a multiple of 64 rows, new rows drawn as transformers' \
                resize_token_embeddings does (docs/a2d.md).
                """)
        @Argument(help: "A Hugging Face model folder or a .gguf file.") var input: String
        @Argument(help: "Output folder (created if missing).") var output: String
        @Option(name: .customLong("mask-token"), help: "The mask token's text (reused if the tokenizer has it).")
        var maskToken = A2DConverter.defaultMaskToken
        @Flag(name: .customLong("random-init"), help: "Keep the architecture, drop the weights (seeded initialisation).")
        var randomInit = false
        @Option(help: "Seed of --random-init and of the added embedding rows.") var seed: UInt64 = 0
        @Option(help: "Weight dtype: f32 or bf16.") var dtype: DType = .f32

        func run() throws {
            let options = A2DConverter.Options(maskToken: maskToken, randomInit: randomInit, seed: seed, dtype: dtype.safetensors)
            let s = try A2DConverter.convert(input: input, to: URL(fileURLWithPath: output), options: options)
            let token = "mask token \(maskToken) id \(s.maskTokenID)" + (s.maskTokenReused ? " (already in the tokenizer, reused)" : " (added)")
            let rows = s.newVocabularyRows == s.oldVocabularyRows ? "vocabulary \(s.oldVocabularyRows) rows (unchanged)"
                : "vocabulary \(s.oldVocabularyRows) → \(s.newVocabularyRows) rows (new rows: \(s.addedRows?.rawValue ?? "random init"))"
            print("\(s.modelType)\(randomInit ? " (random init, seed \(seed))" : ""), \(token), \(rows) → \(output): "
                  + s.files.joined(separator: ", "))
        }
    }

    struct EditFlow: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "editflow",
            abstract: "Add the Edit Flows heads (sub_logits, ins_logits copied from the LM head; rate_heads freshly initialised) "
                + "to an a2d-llama/a2d-qwen2/a2d-qwen3 or llada folder (model_type editflow-<base>).",
            discussion: "Mirrors dLLM's pipelines/editflow/convert.py (docs/objectives.md, \"Edit Flows\").")
        @Argument(help: "An A2D or LLaDA model folder.") var input: String
        @Argument(help: "Output folder (created if missing).") var output: String
        @Option(help: "Seed of the rate head's initialisation.") var seed: UInt64 = 0
        @Option(help: "Weight dtype: f32 or bf16.") var dtype: DType = .f32

        func run() throws {
            let s = try EditFlowConverter.convert(input: URL(fileURLWithPath: input), to: URL(fileURLWithPath: output), seed: seed,
                                                  dtype: dtype.safetensors)
            print("\(s.modelType), \(s.parameterCount) parameters (\(dtype.rawValue)) → \(output): " + s.files.joined(separator: ", "))
        }
    }
}
