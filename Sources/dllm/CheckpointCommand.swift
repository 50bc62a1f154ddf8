import ArgumentParser
import DLLMTraining
import Foundation

/// `dllm checkpoint consolidate DIR`: one Hugging Face `model.safetensors` (and a
/// full `optimizer.safetensors`) from a checkpoint written by several ranks.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Work with checkpoints.", subcommands: [Consolidate.self])

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
}
