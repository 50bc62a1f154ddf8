import DLLMCompute

/// The Edit Flows heads' checkpoint names, as dLLM's `EditFlow*Model.__init__` registers them
/// (`pipelines/editflow/models/*/modeling_*.py`): two `nn.Linear(C, V)` token heads without bias
/// (the LM heads they are copied from have none) and `rate_heads = nn.Sequential(nn.Linear(C, 3), nn.Softplus())`.
public enum EditFlowHeadNames {
    public static let substitution = "sub_logits.weight"
    public static let insertion = "ins_logits.weight"
    public static let rateWeight = "rate_heads.0.weight"
    public static let rateBias = "rate_heads.0.bias"
    /// Every head tensor, in layout order.
    public static let all = [substitution, insertion, rateWeight, rateBias]
    /// The `model_type` of an Edit Flows model over `baseType` (`a2d-qwen3` → `editflow-qwen3`, `llada` → `editflow-llada`).
    public static func modelType(forBase baseType: String) -> String? {
        switch baseType {
        case "a2d-llama", "a2d-qwen2", "a2d-qwen3": return "editflow-" + baseType.dropFirst(4)
        case "llada": return "editflow-llada"
        default: return nil
        }
    }
}

/// Where the Edit Flows heads sit in the flat parameter buffer.
struct EditFlowHeadOffsets {
    var substitution = 0, insertion = 0, rateWeight = 0, rateBias = 0

    static func append(to layout: inout ParameterLayout, vocab V: Int, hidden C: Int) -> EditFlowHeadOffsets {
        var o = EditFlowHeadOffsets()
        o.substitution = layout.append(EditFlowHeadNames.substitution, [V, C])
        o.insertion = layout.append(EditFlowHeadNames.insertion, [V, C])
        o.rateWeight = layout.append(EditFlowHeadNames.rateWeight, [3, C])
        o.rateBias = layout.append(EditFlowHeadNames.rateBias, [3])
        return o
    }
}

/// The heads' outputs for the last forward's N = B·T rows. After the loss has run, the same
/// buffers hold the gradients of the loss with respect to them (the convention of `logits`).
public struct EditFlowOutputs<S: ComputeScalar> {
    public let B: Int, T: Int, V: Int
    /// (N, V) substitution token logits (`sub_logits`).
    public let substitutionLogits: UnsafeMutablePointer<S>
    /// (N, V) insertion token logits (`ins_logits`).
    public let insertionLogits: UnsafeMutablePointer<S>
    /// (N, 3) rates after the softplus, columns substitution, deletion, insertion
    /// (dLLM's `sub_rate_hat`, `del_rate_hat`, `ins_rate_hat`).
    public let rates: UnsafeMutablePointer<S>
}

/// A model that carries the Edit Flows heads: its forward yields ``EditFlowOutputs`` instead of
/// LM-head logits, and its backward starts from their gradients.
public protocol EditFlowLanguageModel<Scalar>: LanguageModel {
    /// Runs the training forward (activations saved) and the three heads on every row.
    func editFlowForward(_ batch: TokenBatch, mask: AttentionMask) -> EditFlowOutputs<Scalar>
    /// Backward from the gradients the caller wrote into the last ``editFlowForward(_:mask:)``'s
    /// outputs: accumulates every parameter gradient.
    func editFlowBackward()
}

/// The heads' intermediates for (N) rows.
final class EditFlowHeadBuffers<S: ComputeScalar> {
    let substitution: Buffer<S>, insertion: Buffer<S>   // (N, V)
    let rawRates: Buffer<S>, rates: Buffer<S>           // (N, 3) before / after the softplus
    let dRawRates: Buffer<S>                            // (N, 3)

    init(N: Int, V: Int) {
        substitution = Buffer(count: N * V)
        insertion = Buffer(count: N * V)
        rawRates = Buffer(count: N * 3)
        rates = Buffer(count: N * 3)
        dRawRates = Buffer(count: N * 3)
    }
}

/// The heads on the last hidden state `hidden` (N, C), mirroring dLLM `EditFlowQwen3Model.forward`:
/// `sub_logits(h)`, `ins_logits(h)`, `softplus(rate_heads.0(h))`; the three products in bf16 under
/// `bf16` (``LlamaModel/bf16Matmuls``, as autocast runs the heads' `nn.Linear`s), the softplus float32.
func editFlowHeadsForward<S: ComputeScalar>(_ out: EditFlowHeadBuffers<S>, hidden: UnsafePointer<S>, parameters p: UnsafePointer<S>,
                                            offsets o: EditFlowHeadOffsets, N: Int, C: Int, V: Int, bf16: Bool) {
    trainingLinearForward(out.substitution.pointer, hidden, p + o.substitution, nil, N: N, C: C, OC: V, bf16: bf16)
    trainingLinearForward(out.insertion.pointer, hidden, p + o.insertion, nil, N: N, C: C, OC: V, bf16: bf16)
    trainingLinearForward(out.rawRates.pointer, hidden, p + o.rateWeight, p + o.rateBias, N: N, C: C, OC: 3, bf16: bf16)
    softplusForward(out.rates.pointer, out.rawRates.pointer, count: N * 3)
}

/// Backward of ``editFlowHeadsForward``: the gradients in `out`'s logits and rates flow into the
/// heads' parameter gradients `g` and accumulate into `dHidden` (N, C).
func editFlowHeadsBackward<S: ComputeScalar>(_ dHidden: UnsafeMutablePointer<S>, gradients g: UnsafeMutablePointer<S>,
                                             _ out: EditFlowHeadBuffers<S>, hidden: UnsafePointer<S>, parameters p: UnsafePointer<S>,
                                             offsets o: EditFlowHeadOffsets, N: Int, C: Int, V: Int, bf16: Bool) {
    out.dRawRates.zero()
    softplusBackward(out.dRawRates.pointer, out.rates.pointer, out.rawRates.pointer, count: N * 3)
    trainingLinearBackward(dHidden, g + o.substitution, nil, out.substitution.pointer, hidden, p + o.substitution, N: N, C: C, OC: V, bf16: bf16)
    trainingLinearBackward(dHidden, g + o.insertion, nil, out.insertion.pointer, hidden, p + o.insertion, N: N, C: C, OC: V, bf16: bf16)
    trainingLinearBackward(dHidden, g + o.rateWeight, g + o.rateBias, out.dRawRates.pointer, hidden, p + o.rateWeight,
                           N: N, C: C, OC: 3, bf16: bf16)
}
