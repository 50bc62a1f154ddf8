import DLLMCompute
import DLLMModels
import Foundation

/// dLLM's Edit Flows rate loss (`EditFlowTrainer.compute_loss`, steps 6–8), for B rows:
///
///     L = (1/B) Σ_b w_b / n_b · [ Σ_{i < |x_t|} (λ_sub + λ_del + λ_ins)(i)
///                                − Σ_{sub e} (log Q_sub(i_e, y_e) + log λ_sub(i_e))
///                                − Σ_{ins e} (log Q_ins(i_e, y_e) + log λ_ins(i_e))
///                                − Σ_{del e} log λ_del(i_e) ]
///
/// with Q the softmax of the token heads, λ the softplus rates, w_b the clamped κ′/(1 − κ), n_b
/// = len(x1) and every log's argument clamped at 10⁻¹².
public enum EditFlowLoss {
    static let logFloor = 1e-12

    /// The loss of `outputs` (a forward's head outputs) against `targets`; afterwards the
    /// outputs' buffers hold `dloss`·∂L/∂(logits, rates) for ``EditFlowLanguageModel/editFlowBackward()``.
    public static func forwardBackward(_ outputs: EditFlowOutputs<Float>, _ targets: EditFlowTargets, dloss: Float = 1) -> Double {
        let B = outputs.B, T = outputs.T, V = outputs.V
        precondition(targets.rows.count == B, "EditFlowLoss: one target row per batch row")
        var loss = 0.0
        var dRates = [Float](repeating: 0, count: B * T * 3)   // (N, 3)
        var tokenRows: [(head: UnsafeMutablePointer<Float>, row: Int, gradient: [Float])] = []
        for (b, row) in targets.rows.enumerated() {
            precondition(row.length <= T, "EditFlowLoss: row \(b) longer than the batch")
            let scale = Double(row.weight) / Double(row.normalizer) / Double(B)
            let c = Float(scale) * dloss
            var rowLoss = 0.0
            for i in 0..<row.length {
                for k in 0..<3 {
                    rowLoss += Double(outputs.rates[(b * T + i) * 3 + k])
                    dRates[(b * T + i) * 3 + k] = c
                }
            }
            // The log-rate terms: column 0 substitution, 1 deletion, 2 insertion.
            for e in row.edits {
                precondition(e.position >= 0 && e.position < row.length, "EditFlowLoss: edit at \(e.position) outside x_t of \(row.length)")
                let column = e.kind == .substitution ? 0 : e.kind == .deletion ? 1 : 2
                let n = (b * T + e.position) * 3 + column
                let rate = Double(outputs.rates[n])
                rowLoss -= log(max(rate, logFloor))
                if rate >= logFloor { dRates[n] -= c / Float(rate) }
            }
            // The token terms, one softmax per (head, row) however many edits share it.
            for (kind, head) in [(Edit.Kind.substitution, outputs.substitutionLogits), (.insertion, outputs.insertionLogits)] {
                let grouped = Dictionary(grouping: row.edits.filter { $0.kind == kind }, by: \.position)
                for (position, edits) in grouped {
                    let r = b * T + position
                    let logits = head + r * V
                    var maximum = -Double.infinity
                    for v in 0..<V { maximum = max(maximum, Double(logits[v])) }
                    var sum = 0.0
                    for v in 0..<V { sum += exp(Double(logits[v]) - maximum) }
                    let logSumExp = maximum + log(sum)
                    var gradient = [Float](repeating: 0, count: V)
                    for v in 0..<V { gradient[v] = c * Float(Double(edits.count) * exp(Double(logits[v]) - logSumExp)) }
                    for e in edits {
                        rowLoss -= Double(logits[Int(e.token!)]) - logSumExp
                        gradient[Int(e.token!)] -= c
                    }
                    tokenRows.append((head, r, gradient))
                }
            }
            loss += scale * rowLoss
        }
        // Every logit without an edit, and every padded row, gets no gradient.
        outputs.substitutionLogits.update(repeating: 0, count: B * T * V)
        outputs.insertionLogits.update(repeating: 0, count: B * T * V)
        for (head, r, gradient) in tokenRows {
            gradient.withUnsafeBufferPointer { (head + r * V).update(from: $0.baseAddress!, count: V) }
        }
        dRates.withUnsafeBufferPointer { outputs.rates.update(from: $0.baseAddress!, count: B * T * 3) }
        return loss
    }
}
