import DLLMCompute
import DLLMModels
import Foundation

/// dLLM `EditFlowSamplerConfig` (`pipelines/editflow/sampler.py`).
public struct EditFlowSamplerConfig: Sendable {
    /// The τ-leap length; the sampler takes ⌈1/τ⌉ steps at most.
    public var tau: Double = 0.01
    /// Sampling stops once t ≥ 1 − `timeEpsilon`.
    public var timeEpsilon: Double = 1e-3
    /// Mask tokens appended to the prompt as the starting canvas (0: none).
    public var maskLength: Int = 64
    /// 0 takes the argmax token; above 0 samples from softmax(logits / temperature).
    public var temperature: Double = 0
    /// Lets the prompt be edited too (off by default: the prompt is protected).
    public var editPrompt: Bool = false
    /// Reuses the last forward when the previous step changed nothing (the model does not read t).
    public var timeIndependent: Bool = true

    public init(tau: Double = 0.01, timeEpsilon: Double = 1e-3, maskLength: Int = 64, temperature: Double = 0,
                editPrompt: Bool = false, timeIndependent: Bool = true) {
        self.tau = tau
        self.timeEpsilon = timeEpsilon
        self.maskLength = maskLength
        self.temperature = temperature
        self.editPrompt = editPrompt
        self.timeIndependent = timeIndependent
    }
}

/// The uniforms one τ-leap step reads, (T) each: whether a deletion-or-substitution fires, which
/// of the two, and whether an insertion fires.
public struct EditFlowStepDraws: Sendable {
    public var fire: [Float], delete: [Float], insert: [Float]

    public init(fire: [Float], delete: [Float], insert: [Float]) {
        self.fire = fire
        self.delete = delete
        self.insert = insert
    }
}

/// Edit Flows' τ-leaping sampler (Havasi et al. 2025), mirroring dLLM `tau_leap_step` and
/// `EditFlowSampler.sample` for one sequence:
///
/// - the rates are scaled by the linear schedule's w(t) = 1/(1 − t + 10⁻⁶);
/// - unless `editPrompt`, deletion and substitution are off on the prompt's rows and insertion
///   on all but its last row (text may still grow right after the prompt);
/// - per row, a deletion-or-substitution fires with probability min(τ·(λ_del + λ_sub), 1 − 10⁻⁶)
///   and is a deletion with probability λ_del/(λ_del + λ_sub + 10⁻⁸), so the two exclude each
///   other; an insertion after the row fires independently with probability min(τ·λ_ins, 1 − 10⁻⁶);
/// - the edits are applied left to right in one pass (row i's insertion follows row i).
public enum EditFlowSampler {
    /// One τ-leap step of `x` from the heads' `outputs` on it (B = 1, T = x.count), with the given
    /// draws; `token(isSubstitution, row)` picks the token a firing substitution or insertion writes.
    /// Returns the new sequence and whether anything fired.
    public static func step(_ x: [Int32], outputs: EditFlowOutputs<Float>, promptLength: Int, t: Double, tau: Double,
                            editPrompt: Bool, draws: EditFlowStepDraws,
                            token: (_ isSubstitution: Bool, _ row: Int) -> Int32) -> (next: [Int32], edited: Bool) {
        let T = x.count
        precondition(outputs.B == 1 && outputs.T == T && draws.fire.count == T && draws.delete.count == T && draws.insert.count == T,
                     "EditFlowSampler.step: outputs and draws must cover the sequence")
        let w = KappaSchedule.linear.weight(Float(t))
        let tauF = Float(tau), ceiling = Float(1) - Float(1e-6)
        let prompt = max(1, min(promptLength, T))
        var next: [Int32] = []
        var edited = false
        for i in 0..<T {
            var substitution = outputs.rates[i * 3] * w
            var deletion = outputs.rates[i * 3 + 1] * w
            var insertion = outputs.rates[i * 3 + 2] * w
            if !editPrompt {
                if i < prompt { substitution = 0; deletion = 0 }
                if prompt >= 2 && i < prompt - 1 { insertion = 0 }
            }
            let combined = deletion + substitution
            let fires = draws.fire[i] < min(max(combined * tauF, 0), ceiling)
            let deleteShare = min(max(deletion / (combined + 1e-8), 0), 1)
            let deletes = fires && draws.delete[i] < deleteShare
            let inserts = draws.insert[i] < min(max(insertion * tauF, 0), ceiling)
            edited = edited || fires || inserts
            if deletes {
            } else if fires {
                next.append(token(true, i))
            } else {
                next.append(x[i])
            }
            if inserts { next.append(token(false, i)) }
        }
        return (next, edited)
    }

    /// Samples from `prompt` (BOS prepended unless present; an empty prompt is BOS alone) followed
    /// by `maskLength` masks. Uniforms come from `noise` addressed by (step, kind, row): kind 0 the
    /// fire draw, 1 the deletion share, 2 the insertion draw, 3 and 4 the Gumbel noise of a
    /// substitution's and an insertion's token. `onStep` sees the canvas after every step.
    public static func sample(model: any EditFlowLanguageModel<Float>, prompt: [Int32], bosTokenID: Int32, maskTokenID: Int32?,
                              config: EditFlowSamplerConfig, noise: any NoiseSource,
                              onStep: (_ step: Int, _ tokens: [Int32]) -> Void = { _, _ in }) throws -> [Int32] {
        guard config.tau > 0, config.tau <= 1 else {
            throw SamplingError.invalidValue(parameter: "tau", value: "\(config.tau)", reason: "must be in (0, 1]")
        }
        guard config.temperature >= 0 else {
            throw SamplingError.invalidValue(parameter: "temperature", value: "\(config.temperature)", reason: "must not be negative")
        }
        guard config.maskLength >= 0 else { throw SamplingError.notPositive(parameter: "mask_length", value: config.maskLength) }
        var x = prompt.first == bosTokenID ? prompt : [bosTokenID] + prompt
        let promptLength = x.count
        if config.maskLength > 0 {
            guard let mask = maskTokenID else { throw SamplingError.noMaskToken(model: "the model") }
            x += [Int32](repeating: mask, count: config.maskLength)
        }
        if x.count > model.maxPositions {
            throw SamplingError.promptTooLong(promptTokens: promptLength, genLength: config.maskLength, maxPositions: model.maxPositions)
        }
        let steps = Int((1 / max(config.tau, 1e-9)).rounded(.up))
        var t = 0.0
        var outputs: EditFlowOutputs<Float>?
        var edited = true
        let V = model.vocabularySize
        var gumbel = [Double](repeating: 0, count: V)
        for s in 0..<steps {
            if !(config.timeIndependent && !edited && outputs != nil) {
                outputs = model.editFlowForward(TokenBatch(ids: x, B: 1, T: x.count), mask: AttentionMask(.bidirectional, B: 1, T: x.count))
            }
            let out = outputs!
            let T = x.count
            let draws = EditFlowStepDraws(
                fire: (0..<T).map { Float(noise.remaskUniform(step: s, sample: 0, position: $0)) },
                delete: (0..<T).map { Float(noise.remaskUniform(step: s, sample: 1, position: $0)) },
                insert: (0..<T).map { Float(noise.remaskUniform(step: s, sample: 2, position: $0)) })
            let result = step(x, outputs: out, promptLength: promptLength, t: t, tau: config.tau, editPrompt: config.editPrompt,
                              draws: draws) { isSubstitution, row in
                let logits = UnsafePointer((isSubstitution ? out.substitutionLogits : out.insertionLogits) + row * V)
                if config.temperature == 0 { return Int32(gumbelArgmax(logits, V: V, temperature: 0, noise: nil)) }
                return gumbel.withUnsafeMutableBufferPointer { buffer in
                    noise.gumbelUniforms(step: s, sample: isSubstitution ? 3 : 4, position: row, into: buffer)
                    return Int32(gumbelArgmax(logits, V: V, temperature: config.temperature, noise: buffer))
                }
            }
            // Past the model's positions nothing more can be read: stop with what there is.
            if result.next.count > model.maxPositions || result.next.isEmpty { break }
            x = result.next
            edited = result.edited
            onStep(s + 1, x)
            t = min(1, t + config.tau)
            if t >= 1 - config.timeEpsilon { break }
        }
        return x
    }
}
