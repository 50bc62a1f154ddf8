import ArgumentParser
import DLLMCompute
import DLLMDistributed
import DLLMModels
import DLLMOptim
import DLLMRandom
import Foundation

/// `mpirun -np 2 dllm bench parallel --stage ddp|zero2|fsdp`: per optimizer step, the
/// compute time, the time blocked in communication, the bytes each rank sent against
/// the theory (2Ψ(N−1)/N for DDP and ZeRO-2, 3Ψ(N−1)/N for ZeRO-1 and FSDP, Ψ in bytes; the
/// gradient share halves with `--communication-data-type bf16`), and how
/// many collectives were started during backward (overlapping compute).
struct ParallelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parallel", abstract: "Communication of DDP / ZeRO / FSDP on the reference config (run under mpirun).")

    @Option var stage: ShardingStage = .ddp
    @Option var hidden = 512
    @Option var layers = 8
    @Option var heads = 8
    @Option var intermediate = 1408
    @Option var vocab = 32000
    @Option(help: "Sequences per rank per step.") var batch = 4
    @Option var seq = 512
    @Option var steps = 2
    @Option(name: .customLong("bucket-elements")) var bucketElements = 6_553_600
    @Option(name: .customLong("communication-data-type"),
            help: "Element type of the gradient reductions (DeepSpeed communication_data_type): fp32 or bf16.")
    var communicationDataType: WirePrecision = .fp32
    @Option(name: .customLong("save-to"), help: "After the steps, save a consolidated checkpoint into this (new) folder and report each rank's peak resident memory during the save.")
    var saveTo: String?

    func run() throws {
        let comm: Communicator = RankEnvironment.launchedByMPI() ? MPICommunicator() : SingleProcessCommunicator()
        ComputeThreads.configureBLAS()
        let spec = LlamaSpec(modelType: "llama", naming: .huggingFace, hidden: hidden, layers: layers, heads: heads, kvHeads: heads,
                             headDim: hidden / heads, intermediate: intermediate, vocab: vocab, rmsNormEps: 1e-5, ropeTheta: 10_000,
                             maxPositions: max(seq, 2048), tiedEmbeddings: false, qkvBias: false)
        let model = LlamaModel<Float>(spec: spec)
        Initialization.initialize(model, seed: 0)
        let strategy = ParallelStrategies.make(model: model, comm: comm, plan: ParallelPlan(stage: stage, bucketElements: bucketElements,
                                                                                           gradientWire: communicationDataType))
        var rng = SeededGenerator(seed: UInt64(1 + comm.rank))
        let N = batch * seq
        let ids = (0..<N).map { _ in Int32(rng.next() % UInt64(vocab)) }
        let targets = (0..<N).map { _ in Int32(rng.next() % UInt64(vocab)) }
        let weights = [Float](repeating: 1 / Float(N), count: N)
        let input = TokenBatch(ids: ids, B: batch, T: seq)
        let mask = AttentionMask(.bidirectional, B: batch, T: seq)
        let adam = AdamWConfig(learningRate: 1e-4, weightDecay: 0.1)
        var rows: [(total: Double, wait: Double, bytes: Int, overlapped: Int)] = []
        for step in 1...(steps + 1) {
            comm.barrier()
            let before = comm.bytesSent
            let start = DispatchTime.now().uptimeNanoseconds
            strategy.beginStep()
            strategy.beginMicroBatch(isLast: true)
            model.forwardBackward(input, mask: mask, targets: targets, weights: weights)
            strategy.endMicroBatch()
            let norm = strategy.gradientNorm()
            strategy.optimizerStep(step: step, learningRate: 1e-4, config: adam, clip: GradientClipping.clipCoefficient(norm: norm, maxNorm: 1))
            let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if step > 1 { rows.append((total, strategy.stats.waitSeconds, comm.bytesSent - before, strategy.stats.overlappedCollectives)) }
        }
        let savePeaks = try saveTo.map { try measureSave(strategy: strategy, spec: spec, to: URL(fileURLWithPath: $0)) }
        guard comm.rank == 0 else { (comm as? MPICommunicator)?.finalize(); return }
        let W = Double(comm.worldSize), psiBytes = Double(model.parameterCount * 4)
        // G: gradients, in the wire type; P: parameter gathers, always float32. DDP all-reduces
        // (2G), ZeRO-1 all-reduces and gathers (2G + P), ZeRO-2 reduce-scatters and gathers (G + P),
        // FSDP gathers twice and reduce-scatters (2P + G); each times (N−1)/N.
        let G = psiBytes * Double(communicationDataType.elementBytes) / 4, P = psiBytes
        let perStage: [ShardingStage: Double] = [.ddp: 2 * G, .zero1: 2 * G + P, .zero2: G + P, .fsdp: 2 * P + G]
        let theory = perStage[stage]! * (W - 1) / W
        let mean = { (f: ((total: Double, wait: Double, bytes: Int, overlapped: Int)) -> Double) in rows.map(f).reduce(0, +) / Double(rows.count) }
        let memory = strategy.memoryReport()
        print("stage \(stage.rawValue), gradients as \(communicationDataType.rawValue), \(comm.worldSize) ranks, \(model.parameterCount) parameters, \(batch)x\(seq) tokens per rank, \(ComputeThreads.count) thread(s) per rank")
        print(String(format: "step %.2f s = compute %.2f s + blocked in communication %.2f s", mean { $0.total }, mean { $0.total - $0.wait }, mean { $0.wait }))
        print(String(format: "bytes sent per rank per step: %.1f MB (theory %.1f MB, ratio %.3f)", mean { Double($0.bytes) } / 1e6, theory / 1e6,
                     mean { Double($0.bytes) } / max(theory, 1)))
        print(String(format: "collectives started during backward: %.0f per step (%@)", mean { Double($0.overlapped) },
                     stage == .fsdp ? "block reduce-scatters; gathers prefetched" : "bucket \(bucketElements) elements"))
        print("memory per rank (bytes): parameters \(memory.parameters), gradients \(memory.gradients), optimizer \(memory.optimizerState), transient \(memory.transient); resident now \(MemoryRelease.residentBytes())")
        if let savePeaks {
            let psiMB = psiBytes / 1e6
            print(String(format: "consolidated save (one fp32 copy of the parameters = %.1f MB): per rank, resident before -> peak during the save", psiMB))
            for (rank, peak) in savePeaks.enumerated() {
                print(String(format: "  rank %d: %.1f MB -> %.1f MB (+%.1f MB)", rank, peak.before / 1e6, peak.peak / 1e6, (peak.peak - peak.before) / 1e6))
            }
        }
        (comm as? MPICommunicator)?.finalize()
    }

    /// Every rank: resident bytes before a consolidated save and the peak during it
    /// (`VmHWM` reset just before), gathered for rank 0 to print.
    func measureSave(strategy: any ParallelStrategy, spec: LlamaSpec, to folder: URL) throws -> [(before: Double, peak: Double)] {
        let comm = strategy.comm
        if comm.rank == 0 { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        comm.barrier()
        let before = Double(MemoryRelease.residentBytes())
        guard MemoryRelease.resetPeakResident() else { throw ValidationError("cannot reset the peak resident size (/proc/self/clear_refs)") }
        try strategy.saveState(to: folder, modelConfig: ["model_type": spec.modelType], consolidated: true)
        let peak = Double(MemoryRelease.peakResidentBytes() ?? 0)
        var slots = [Double](repeating: 0, count: 2 * comm.worldSize)
        slots[2 * comm.rank] = before
        slots[2 * comm.rank + 1] = peak
        let all = comm.allReduceSum(slots)
        return (0..<comm.worldSize).map { (all[2 * $0], all[2 * $0 + 1]) }
    }
}

extension ShardingStage: ExpressibleByArgument {}
extension WirePrecision: ExpressibleByArgument {}
