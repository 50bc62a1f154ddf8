import DLLMModels
import Foundation

/// The part of `ParallelStrategy` that DDP, ZeRO-1, ZeRO-2 and FSDP implement the
/// same way, on their `DataParallelCore`.
public protocol DataParallelStrategy: ParallelStrategy {
    var core: DataParallelCore { get }
}

extension DataParallelStrategy {
    public var comm: Communicator { core.comm }
    public var model: any LanguageModel<Float> { core.model }
    public var plan: ParallelPlan { core.plan }
    public var map: ShardMap { core.map }
    public var stats: CommunicationStats { core.stats }

    public func gradientNorm() -> Double { core.gradientNorm() }

    public func saveState(to folder: URL, modelConfig: [String: Any], consolidated: Bool) throws {
        try ShardedCheckpointState.save(core: core, to: folder, modelConfig: modelConfig, consolidated: consolidated)
    }

    public func loadState(from folder: URL) throws {
        try ShardedCheckpointState.load(core: core, from: folder)
    }
}
