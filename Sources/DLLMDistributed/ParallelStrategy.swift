import DLLMModels
import DLLMOptim
import Foundation

/// How one rank takes part in an optimizer step: the seam between the training
/// loop and parallelism. The loop calls the same methods whatever the strategy
/// (a single process, DDP, ZeRO-1, ZeRO-2 or FSDP); the model only sees the
/// `BlockHooks` a strategy installs. torchtitan's rule: the model and the loop
/// know nothing of parallelism.
///
/// A strategy is built once every rank holds identical parameters (after random
/// initialisation with one seed, or after loading); a sharding strategy keeps only
/// this rank's shard from then on.
///
/// One step, in the loop's order:
///
///     strategy.beginStep()
///     for each micro-batch { beginMicroBatch(isLast:); model.forwardBackward(…); endMicroBatch() }
///     loss = strategy.mean(loss); norm = strategy.gradientNorm()
///     strategy.optimizerStep(step:learningRate:config:clip:)
///     stop = strategy.agreeToStop(stopRequested)
public protocol ParallelStrategy: AnyObject {
    /// `single`, `ddp`, `zero1`, `zero2` or `fsdp`.
    var name: String { get }
    var comm: Communicator { get }
    var model: any LanguageModel<Float> { get }
    /// Time blocked in, and traffic of, the current step's collectives.
    var stats: CommunicationStats { get }
    /// Bytes of model state this rank holds by design.
    func memoryReport() -> MemoryReport

    /// Before a step's first micro-batch: gradients to zero, statistics reset.
    func beginStep()
    /// Before each micro-batch's forward (`isLast`: the step's gradients are complete after it).
    func beginMicroBatch(isLast: Bool)
    /// After each micro-batch's backward: its collectives have completed.
    func endMicroBatch()
    /// The global L2 norm of the rank-averaged gradient (across every shard).
    func gradientNorm() -> Double
    /// Averages the gradient over ranks, scales it by `clip`, updates the state this
    /// rank owns with AdamW and re-assembles whatever the strategy replicates.
    func optimizerStep(step: Int, learningRate: Double, config: AdamWConfig, clip: Double)

    /// Runs `body` with the full parameters in `model.parameters` on every rank
    /// (FSDP gathers them around it; other strategies hold them already). Collective.
    func withFullParameters<T>(_ body: () throws -> T) rethrows -> T

    /// Writes this rank's share of weights and optimizer state into the (existing)
    /// checkpoint folder; `consolidated` asks for a full `model.safetensors` even
    /// when parameters are sharded. Every rank calls it together.
    func saveState(to folder: URL, modelConfig: [String: Any], consolidated: Bool) throws
    /// Reads weights and optimizer state from a checkpoint folder written by any
    /// strategy at any world size, each rank only what it holds. Collective.
    func loadState(from folder: URL) throws
}

extension ParallelStrategy {
    public var rank: Int { comm.rank }
    public var worldSize: Int { comm.worldSize }

    /// The mean over ranks of a per-rank value (the logged loss).
    public func mean(_ value: Double) -> Double { comm.allReduceSum([value])[0] / Double(comm.worldSize) }

    /// Element-wise sums over ranks.
    public func sum(_ values: [Double]) -> [Double] { comm.allReduceSum(values) }

    /// True on every rank when any rank asks to stop: every rank must stop after the
    /// same step, or the others would wait forever in the next step's collectives
    /// (a signal may reach ranks on either side of a step boundary).
    public func agreeToStop(_ requested: Bool) -> Bool { comm.allReduceSum([requested ? 1 : 0])[0] > 0 }
}

/// Builds the strategy a run asks for.
public enum ParallelStrategies {
    /// A single process when `plan` is nil; otherwise the plan's stage over `comm`.
    /// The model must hold the parameters every rank starts from.
    public static func make(model: any LanguageModel<Float>, comm: Communicator, plan: ParallelPlan?) -> any ParallelStrategy {
        guard let plan else { return SingleProcessStrategy(model: model, comm: comm) }
        switch plan.stage {
        case .ddp: return DDPStrategy(model: model, comm: comm, plan: plan)
        case .zero1: return ZeRO1Strategy(model: model, comm: comm, plan: plan)
        case .zero2: return ZeRO2Strategy(model: model, comm: comm, plan: plan)
        case .fsdp: return FSDPStrategy(model: model, comm: comm, plan: plan)
        }
    }
}
