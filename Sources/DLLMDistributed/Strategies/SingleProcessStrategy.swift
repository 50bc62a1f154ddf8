import DLLMCompute
import DLLMModels
import DLLMOptim
import Foundation

/// One process, no collectives (world size 1 through `SingleProcessCommunicator`):
/// full gradients, full AdamW moments, the model's own parameters. Its checkpoints
/// are plain Hugging Face folders with `optimizer.safetensors` beside the weights.
public final class SingleProcessStrategy: ParallelStrategy {
    public let name = "single"
    public let comm: Communicator
    public let model: any LanguageModel<Float>
    /// AdamW's moments, (P) each, in the parameter layout.
    public let m: Buffer<Float>
    public let v: Buffer<Float>
    public let stats = CommunicationStats()
    /// AdamW's decay mask over the flat layout (HF Trainer's default groups).
    let decayMask: [UInt8]

    public init(model: any LanguageModel<Float>, comm: Communicator = SingleProcessCommunicator()) {
        precondition(comm.worldSize == 1, "SingleProcessStrategy runs on one rank; use a data-parallel strategy for \(comm.worldSize)")
        self.model = model
        self.comm = comm
        m = Buffer(count: model.parameterCount)
        v = Buffer(count: model.parameterCount)
        decayMask = model.weightDecayMask()
        model.hooks = nil
    }

    public func memoryReport() -> MemoryReport {
        let full = model.parameterCount * 4
        return MemoryReport(parameters: full, gradients: full, optimizerState: 2 * full, transient: 0)
    }

    public func beginStep() { model.gradients.zero() }
    public func beginMicroBatch(isLast: Bool) {}
    public func endMicroBatch() {}

    public func gradientNorm() -> Double {
        GradientClipping.sumOfSquares(model.gradients.pointer, range: 0..<model.parameterCount).squareRoot()
    }

    public func optimizerStep(step: Int, learningRate: Double, config: AdamWConfig, clip: Double) {
        let n = model.parameterCount
        let g = model.gradients.pointer
        let scale = Float(clip)
        if scale != 1 { for i in 0..<n { g[i] *= scale } }
        decayMask.withUnsafeBufferPointer { mask in
            AdamW.step(params: model.parameters.pointer, grads: UnsafePointer(g), m: m.pointer, v: v.pointer, range: 0..<n,
                       step: step, config: config, learningRate: learningRate, decayMask: mask.baseAddress)
        }
    }

    public func withFullParameters<T>(_ body: () throws -> T) rethrows -> T { try body() }

    /// `config.json`, `model.safetensors` and `optimizer.safetensors` (`exp_avg`, `exp_avg_sq`),
    /// streamed from the buffers the run trains with (bytes as `ModelFolder.save` writes them).
    public func saveState(to folder: URL, modelConfig: [String: Any], consolidated: Bool) throws {
        try StreamedModelSave.write(model: model, config: modelConfig, shard: nil, comm: comm, to: folder)
        try ShardedCheckpointState.writeFullMoments(m: m, v: v, to: folder)
    }

    public func loadState(from folder: URL) throws {
        let reader = try CheckpointStateReader(folder: folder, parameterCount: model.parameterCount)
        try reader.loadReplicatedParameters(into: model)
        try reader.read(CheckpointStateReader.firstMoment, flat: 0..<model.parameterCount, into: m.pointer)
        try reader.read(CheckpointStateReader.secondMoment, flat: 0..<model.parameterCount, into: v.pointer)
    }
}
