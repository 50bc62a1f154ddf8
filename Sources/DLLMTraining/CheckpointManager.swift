import DLLMCheckpoint
import DLLMCompute
import DLLMDistributed
import DLLMModels
import Foundation

/// Checkpoints under `output_dir/checkpoint-STEP/` in Hugging Face layout
/// (`config.json`, `model.safetensors`, tokenizer files) plus the training state
/// (`trainer_state.json`, `training_args.json`, and AdamW's moments as the strategy
/// keeps them: `optimizer.safetensors` for one process, per-rank shards and
/// `sharding.json` for DDP, ZeRO and FSDP; see `ShardedCheckpointState`).
///
/// A checkpoint is built under a hidden temporary name and renamed into place
/// whole (every file fsynced first), so a crash during a save never leaves a
/// `checkpoint-STEP` that looks complete; leftovers of an interrupted save are
/// removed at the next start. `save_total_limit` deletes the oldest complete ones.
public struct CheckpointManager {
    public let outputDirectory: URL
    public let totalLimit: Int?
    public static let prefix = "checkpoint-"

    public init(outputDirectory: URL, totalLimit: Int?) {
        self.outputDirectory = outputDirectory
        self.totalLimit = totalLimit
    }

    /// Complete checkpoints, oldest first.
    public func checkpoints() -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outputDirectory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix(Self.prefix), let step = Int(name.dropFirst(Self.prefix.count)) else { return nil }
            let url = outputDirectory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path) else { return nil }
            return (step, url)
        }.sorted { $0.0 < $1.0 }.map { (step: $0.0, url: $0.1) }
    }

    public func latest() -> URL? { checkpoints().last?.url }

    /// Removes temporary folders left by saves that never completed.
    public func removeIncompleteSaves() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outputDirectory.path)) ?? []
        for name in names where name.hasPrefix(".\(Self.prefix)") && name.contains(".tmp-") {
            try? FileManager.default.removeItem(at: outputDirectory.appendingPathComponent(name))
        }
    }

    /// Writes a complete checkpoint for `state.globalStep` and rotates old ones. Every
    /// rank calls it together: each writes its share through the strategy into one
    /// temporary folder (named after rank 0's process), they meet at a barrier, and
    /// rank 0 writes the tokenizer files, `training_args.json` and, last,
    /// `trainer_state.json`, then renames the folder into place.
    @discardableResult
    public func save(
        strategy: any ParallelStrategy, modelConfig: [String: Any], state: TrainerState,
        trainingConfig: TrainingConfig, tokenizerFiles: [URL], name: String? = nil
    ) throws -> URL {
        let comm = strategy.comm
        let finalName = name ?? "\(Self.prefix)\(state.globalStep)"
        let final = outputDirectory.appendingPathComponent(finalName)
        var job = Int64(getpid())
        comm.broadcast(&job, bytes: MemoryLayout<Int64>.size, root: 0)
        let temporary = outputDirectory.appendingPathComponent(".\(finalName).tmp-\(job)")
        if comm.rank == 0 {
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: temporary)
            try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        }
        comm.barrier()
        // A named (final) checkpoint holds the whole model even when parameters are sharded.
        try strategy.saveState(to: temporary, modelConfig: modelConfig, consolidated: name != nil)
        comm.barrier()
        if comm.rank == 0 {
            if let lora = strategy.model as? LoRAModel<Float> {
                try LoRATraining.finishCheckpoint(temporary, adapters: lora.adapters, baseModel: trainingConfig.modelNameOrPath)
            }
            for file in tokenizerFiles where FileManager.default.fileExists(atPath: file.path) {
                try AtomicFile.write(try Data(contentsOf: file), to: temporary.appendingPathComponent(file.lastPathComponent))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(trainingConfig), to: temporary.appendingPathComponent("training_args.json"))
            // Fault injection for the crash-during-save test: hold the half-written checkpoint open.
            if let pause = ProcessInfo.processInfo.environment["DLLM_SAVE_PAUSE_AT_STEP"].flatMap(Int.init), pause == state.globalStep {
                Thread.sleep(forTimeInterval: 60)
            }
            // trainer_state.json last: its presence marks a checkpoint as complete.
            try AtomicFile.write(try encoder.encode(state), to: temporary.appendingPathComponent("trainer_state.json"))
            if FileManager.default.fileExists(atPath: final.path) { try FileManager.default.removeItem(at: final) }
            try AtomicFile.commitDirectory(temporary, as: final)
            try rotate()
        }
        comm.barrier()
        return final
    }

    /// Deletes the oldest checkpoints beyond `save_total_limit`.
    public func rotate() throws {
        guard let limit = totalLimit else { return }
        let all = checkpoints()
        for old in all.dropLast(limit) { try FileManager.default.removeItem(at: old.url) }
    }

    /// Reads a checkpoint's training state.
    public static func loadState(_ url: URL) throws -> TrainerState {
        let file = url.appendingPathComponent("trainer_state.json")
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw TrainingError.badCheckpoint(path: url.path, reason: "no trainer_state.json (an incomplete or foreign checkpoint)")
        }
        do { return try JSONDecoder().decode(TrainerState.self, from: data) } catch {
            throw TrainingError.badCheckpoint(path: file.path, reason: "unreadable: \(error)")
        }
    }
}

/// Training failures a user must act on.
public enum TrainingError: Error, CustomStringConvertible {
    case badCheckpoint(path: String, reason: String)
    case nonFinite(step: Int, what: String)
    case noMaskToken(model: String)
    case noData(String)
    case configuration(String)
    case injectedFailure(step: Int)
    /// The operating system refused a write of a checkpoint (read-only or full disk, a file
    /// where a folder should be, permissions).
    case checkpointWrite(checkpoint: String, path: String, reason: String)

    public var description: String {
        switch self {
        case let .badCheckpoint(path, reason): return "\(path): cannot resume: \(reason)"
        case let .nonFinite(step, what):
            return "step \(step): \(what) is not finite; training stopped (set skip_nonfinite_steps: true to skip such steps, or lower learning_rate)"
        case let .noMaskToken(model):
            return "\(model): the masked-diffusion objective needs a mask token: set mask_token_id in config.json or the training config, or add a mask token to the tokenizer"
        case let .noData(message), let .configuration(message): return message
        case let .injectedFailure(step): return "injected failure at step \(step) (DLLM_FAIL_AT_STEP)"
        case let .checkpointWrite(checkpoint, path, reason):
            return "cannot write checkpoint \(checkpoint): \(path): \(reason); the previous checkpoint is unchanged"
        }
    }
}

extension TrainingError {
    /// A Foundation file error (`NSCocoaErrorDomain`, with the POSIX cause underneath) as
    /// the path it concerned and the system's reason, instead of the raw error dump.
    static func checkpointWrite(_ error: CocoaError, checkpoint: String, fallbackPath: String) -> TrainingError {
        let path = error.filePath ?? error.url?.path ?? fallbackPath
        let reason: String
        if let posix = error.underlying.map({ $0 as NSError }), posix.domain == NSPOSIXErrorDomain {
            reason = "\(String(cString: strerror(Int32(posix.code)))) (errno \(posix.code))"
        } else {
            reason = error.localizedDescription
        }
        return .checkpointWrite(checkpoint: checkpoint, path: path, reason: reason)
    }
}
