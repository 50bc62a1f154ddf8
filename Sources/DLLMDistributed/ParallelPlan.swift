/// Which state a run shards across ranks (DeepSpeed's ZeRO stages, PyTorch FSDP).
public enum ShardingStage: String, Sendable, Codable, CaseIterable {
    /// DDP: everything replicated; gradients all-reduced in buckets during backward.
    case ddp
    /// ZeRO-1: AdamW's moments partitioned; each rank updates its partition, parameters all-gathered.
    case zero1
    /// ZeRO-2: also gradients, reduce-scattered in buckets during backward.
    case zero2
    /// FSDP / ZeRO-3: also parameters, per block, gathered just before use.
    case fsdp
}

/// The parallel part of a run's configuration (from the accelerate launch config).
public struct ParallelPlan: Sendable, Equatable, Codable {
    public var stage: ShardingStage
    /// Elements per gradient bucket (DeepSpeed `reduce_bucket_size`; DDP's 25 MB is 6.5M floats).
    public var bucketElements: Int
    /// FSDP: free a block's gathered parameters after its forward, gather again for backward.
    public var reshardAfterForward: Bool
    /// FSDP: start gathering the next block while the current one computes.
    public var prefetch: Bool
    /// The element type of the gradient reductions (DeepSpeed `communication_data_type`);
    /// parameters are always gathered in float32.
    public var gradientWire: WirePrecision

    public init(stage: ShardingStage, bucketElements: Int = 6_553_600, reshardAfterForward: Bool = true, prefetch: Bool = true,
                gradientWire: WirePrecision = .fp32) {
        self.stage = stage
        self.bucketElements = bucketElements
        self.reshardAfterForward = reshardAfterForward
        self.prefetch = prefetch
        self.gradientWire = gradientWire
    }
}

/// Bytes a rank holds for model state, by the strategy's design (what
/// `MemoryRelease` keeps resident), plus the largest transient region.
public struct MemoryReport: Sendable, Equatable, Codable {
    public var parameters: Int
    public var gradients: Int
    public var optimizerState: Int
    /// The largest region that is full-size only while in use (a gathered FSDP block's
    /// parameters and gradients, or a ZeRO-2 bucket's gradients).
    public var transient: Int
    public var total: Int { parameters + gradients + optimizerState }
}

/// Time and traffic of the last optimizer step.
public struct CommunicationStats: Sendable, Equatable {
    /// Seconds spent blocked in collectives (waiting, or blocking calls).
    public var waitSeconds: Double = 0
    public var bytesSent: Int = 0
    /// Collectives started during backward (they may overlap compute).
    public var overlappedCollectives: Int = 0
    public var collectives: Int = 0
}
