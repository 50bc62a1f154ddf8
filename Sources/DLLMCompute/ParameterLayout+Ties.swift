/// A tensor that reads another slot's storage instead of owning one (a tied output
/// head reads the token embedding), so its gradient accumulates into that slot too.
public struct TiedTensor: Sendable, Equatable {
    /// The tied tensor's name (e.g. `lm_head.weight`); it has no slot of its own.
    public let name: String
    /// The slot whose storage it shares (e.g. `model.embed_tokens.weight`).
    public let storage: String
}

extension ParameterLayout {
    /// Records that `name` shares the storage of the existing slot `storage`.
    /// This is how model facts such as tied embeddings reach a parallel strategy:
    /// a block holding shared storage is read (and written by backward) outside its
    /// own turn, so FSDP keeps it gathered and gradient buckets wait for it.
    public mutating func tie(_ name: String, to storage: String) {
        precondition(slot(storage) != nil, "ParameterLayout: tie of \(name) to unknown tensor \(storage)")
        precondition(slot(name) == nil && tie(of: name) == nil, "ParameterLayout: \(name) already has storage")
        ties.append(TiedTensor(name: name, storage: storage))
    }

    /// The tie of a tensor without storage of its own, if `name` is one.
    public func tie(of name: String) -> TiedTensor? { ties.first { $0.name == name } }

    /// Flat ranges read through more than one name (the storage of every tie).
    public var sharedStorage: [Range<Int>] { ties.compactMap { slot($0.storage)?.range } }

    /// Indices of the `blocks` (consecutive ranges of the flat buffer) that hold shared storage.
    public func blocksHoldingSharedStorage(_ blocks: [Range<Int>]) -> Set<Int> {
        var out = Set<Int>()
        for shared in sharedStorage {
            for (b, block) in blocks.enumerated() where block.overlaps(shared) { out.insert(b) }
        }
        return out
    }
}
