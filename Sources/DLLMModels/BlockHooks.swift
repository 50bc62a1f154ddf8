/// Callbacks around each parameter block's forward and backward, the seam through
/// which a parallel strategy works without the model knowing about it (torchtitan's
/// separation): FSDP gathers a block's parameters before it runs and frees them
/// after; DDP and ZeRO-2 start reducing a block's gradients as soon as its backward
/// has finished.
///
/// Block indices follow `LanguageModel.blockRanges`: 0 is the embedding, 1…L the
/// transformer blocks, L+1 the final norm and output head. Forward visits them in
/// increasing order, backward in decreasing order; after `afterBackward(b)` block
/// b's gradients are final for this micro-batch (a tied output head also writes
/// into block 0, which finishes last).
public final class BlockHooks {
    public var beforeForward: ((Int) -> Void)?
    public var afterForward: ((Int) -> Void)?
    public var beforeBackward: ((Int) -> Void)?
    public var afterBackward: ((Int) -> Void)?

    public init() {}
}
