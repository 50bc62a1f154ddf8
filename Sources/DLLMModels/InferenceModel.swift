import DLLMCompute

/// One inference forward: `Tq` new tokens for each of `B` sequences, written at
/// absolute slots of a ``KVCache`` and attending to the slots before a per-row limit.
///
/// Query `i` of row `b` sits at slot (and position) `queryStart[b] + i`; its key and
/// value overwrite that slot of the cache before attention, so the same call serves
/// a full forward (`queryStart = 0`, `Tq = T`), a prefix-cached step (queries from the
/// block start on, the prefix read from the cache), a dual-cached step (only the
/// block, prefix and suffix read from the cache) and autoregressive decoding
/// (`Tq = 1`, causal). Row `b` attends to slots `0 ..< keyLength[b]` (right padding
/// beyond it is never read), and with `causal` only to slots up to its own.
public struct InferenceStep: Sendable {
    /// (B·Tq) token ids, row-major.
    public var ids: [Int32]
    public let B: Int
    public let Tq: Int
    /// (B) slot of each row's first query.
    public var queryStart: [Int]
    /// (B) row `b` attends to slots `0 ..< keyLength[b]`.
    public var keyLength: [Int]
    public var causal: Bool
    /// Indices into `0 ..< B·Tq` (query `b·Tq + i`) whose logits are wanted, in output
    /// order; nil for every query. The final norm and the output head run on these rows only.
    public var logitRows: [Int]?
    /// (B) row `b` attends to slots from `keyStart[b]` on (left padding before it is never
    /// read); nil for slot 0. A query whose key range is empty outputs zeros.
    public var keyStart: [Int]?
    /// Block-causal attention (BD3LM): a query at slot `s` attends only to slots before
    /// `(s / blockSize + 1)·blockSize`, its own block and the blocks before it. nil for none.
    public var blockSize: Int?
    /// (B·Tq) rotary/learned position of each query; nil for its slot, `queryStart[b] + i`.
    public var explicitPositions: [Int32]?

    public init(ids: [Int32], B: Int, Tq: Int, queryStart: [Int], keyLength: [Int], causal: Bool = false,
                logitRows: [Int]? = nil) {
        precondition(ids.count == B * Tq, "InferenceStep: \(ids.count) ids for (\(B), \(Tq)) queries")
        precondition(queryStart.count == B && keyLength.count == B, "InferenceStep: queryStart/keyLength must hold B values")
        self.ids = ids
        self.B = B
        self.Tq = Tq
        self.queryStart = queryStart
        self.keyLength = keyLength
        self.causal = causal
        self.logitRows = logitRows
    }

    /// A full forward over `B` right-padded sequences of length `T` (row `b` valid
    /// up to `lengths[b]`), filling every slot of the cache.
    public static func full(ids: [Int32], B: Int, T: Int, lengths: [Int], causal: Bool = false,
                            logitRows: [Int]? = nil) -> InferenceStep {
        InferenceStep(ids: ids, B: B, Tq: T, queryStart: [Int](repeating: 0, count: B), keyLength: lengths,
                      causal: causal, logitRows: logitRows)
    }

    /// Rows of logits the forward produces.
    public var logitCount: Int { logitRows?.count ?? B * Tq }
}

/// A model that can run without saving activations, on a subset of positions and
/// with a key/value cache: the inference path beside the training forward.
public protocol InferenceModel<Scalar>: AnyObject {
    associatedtype Scalar: ComputeScalar

    var vocabularySize: Int { get }
    var maxPositions: Int { get }

    /// An empty cache for `batch` sequences of up to `capacity` slots.
    func makeCache(batch: Int, capacity: Int) -> KVCache<Scalar>

    /// Runs `step`, writing its keys/values into `cache`, and returns the
    /// (`step.logitCount`, V) logits, valid until the next call with the same cache.
    func inferenceForward(_ step: InferenceStep, cache: KVCache<Scalar>) -> UnsafeMutablePointer<Scalar>
}

extension InferenceModel {
    /// Bidirectional logits of every position of `B` right-padded sequences, (B·T, V),
    /// copied out: the inference path's equivalent of `forward` then `logits`.
    public func bidirectionalLogits(ids: [Int32], B: Int, T: Int, lengths: [Int]? = nil) -> [Scalar] {
        let cache = makeCache(batch: B, capacity: T)
        let out = inferenceForward(.full(ids: ids, B: B, T: T, lengths: lengths ?? [Int](repeating: T, count: B)), cache: cache)
        return Array(UnsafeBufferPointer(start: out, count: B * T * vocabularySize))
    }
}

/// The inference view of a loaded model: every ``LanguageModel`` is an ``InferenceModel``.
public func inferenceModel<S: ComputeScalar>(_ model: any LanguageModel<S>) -> any InferenceModel<S> { model }
