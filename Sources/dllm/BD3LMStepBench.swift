import ArgumentParser
import DLLMCompute
import DLLMModels
import DLLMRandom
import DLLMTraining
import Foundation

/// `dllm bench bd3lm-step`: forward and backward of one BD3LM micro-batch (`x_t ⊕ x_0`, 2L
/// positions under the block mask, the loss on the `x_t` half) with the final norm and output head
/// on every position against on the `x_t` half only (``ObjectiveBatch/logitPositions``), alternated
/// step by step in the same process on the same randomly initialised model.
struct BD3LMStepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bd3lm-step",
        abstract: "BD3LM step time with the output head on all 2L positions against on the scored x_t half (SmolLM2-135M's shape by default).")

    @Option(help: "Hidden size (SmolLM2-135M: 576).") var hidden = 576
    @Option(help: "Transformer blocks.") var layers = 30
    @Option(help: "Attention heads.") var heads = 9
    @Option(name: .customLong("kv-heads"), help: "Key/value heads.") var kvHeads = 3
    @Option(help: "SwiGLU width.") var intermediate = 1536
    @Option(help: "Vocabulary size (tied embeddings).") var vocab = 49152
    @Option(help: "Sequences per step.") var batch = 2
    @Option(help: "Clean tokens per sequence L (the model sees 2L).") var seq = 256
    @Option(name: .customLong("block-size"), help: "BD3LM block size.") var blockSize = 32
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads = 2
    @Option(help: "Untimed warm-up steps of each kind.") var warmup = 1
    @Option(help: "Timed steps of each kind.") var steps = 3

    func run() throws {
        guard seq % blockSize == 0 else { throw ValidationError("--seq \(seq) is not a multiple of --block-size \(blockSize)") }
        try setComputeThreads(threads)
        let spec = LlamaSpec(
            modelType: "llama", naming: .huggingFace, hidden: hidden, layers: layers, heads: heads, kvHeads: kvHeads,
            headDim: hidden / heads, intermediate: intermediate, vocab: vocab, rmsNormEps: 1e-5, ropeTheta: 100_000,
            maxPositions: max(2 * seq, 2048), tiedEmbeddings: true, qkvBias: false, maskTokenID: nil, initializerRange: 0.02)
        let model = LlamaModel<Float>(spec: spec)
        Initialization.initialize(model, seed: 0)
        var rng = SeededGenerator(seed: 1)
        let ids = (0..<(batch * seq)).map { _ in Int32(2 + rng.next() % UInt64(vocab - 3)) }
        let objective = BlockDiffusionObjective(maskTokenID: Int32(vocab - 1), eosTokenID: 1, blockSize: blockSize)
        let prepared = objective.prepare(CleanBatch(B: batch, T: seq, inputIDs: ids, labels: ids, sampleIndices: Array(0..<batch)),
                                         step: 1, seed: 7)
        let positions = [0..<(2 * seq), prepared.logitPositions ?? 0..<(2 * seq)]
        var times = [[Double]](repeating: [], count: 2), losses = [Double](repeating: 0, count: 2)
        for step in 1...(warmup + steps) {
            for (kind, scored) in positions.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                model.gradients.zero()
                losses[kind] = model.forwardBackward(prepared.inputs, mask: prepared.mask, logitPositions: scored,
                                                     targets: prepared.targets, weights: prepared.weights)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if step > warmup { times[kind].append(seconds) }
                FileHandle.standardError.write(Data("step \(step), head on \(scored.count) of \(2 * seq) positions: \(String(format: "%.2f", seconds)) s\n".utf8))
            }
        }
        let means = times.map { $0.reduce(0, +) / Double($0.count) }
        print("shape: hidden \(hidden), layers \(layers), heads \(heads)/\(kvHeads), intermediate \(intermediate), vocab \(vocab) (tied); batch \(batch) x 2·\(seq) positions, block \(blockSize); \(threads) threads")
        print(String(format: "head on all 2L positions: forward+backward %.2f s, loss %.6f", means[0], losses[0]))
        print(String(format: "head on the x_t half:     forward+backward %.2f s, loss %.6f", means[1], losses[1]))
        print(String(format: "x_t half / all: %.3fx step time (%.2f s saved per micro-batch)", means[1] / means[0], means[0] - means[1]))
    }
}
