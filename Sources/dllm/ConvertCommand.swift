import ArgumentParser
import DLLMCheckpoint
import DLLMGGUF
import DLLMImport
import Foundation

/// `dllm convert gguf FILE.gguf OUT/`: a llama.cpp GGUF model as a Hugging Face folder.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert", abstract: "Convert models from other formats.", subcommands: [GGUF.self])

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
}
