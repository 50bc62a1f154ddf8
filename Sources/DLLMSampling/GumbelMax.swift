import DLLMCompute
import Foundation

/// The token LLaDA samples from one row of logits: `argmax(add_gumbel_noise(logits, τ))`.
///
/// Mirrors `add_gumbel_noise` in LLaDA's `generate.py`, in Float64 as it is:
/// `score_v = exp(l_v) / (−log u_v)^τ` with `u` from `noise` (V uniforms). With
/// `τ = 0` the noise term is 1 and the choice is the plain argmax (no noise drawn;
/// dLLM's version returns the logits unchanged then). Ties go to the lowest id, as
/// `torch.argmax` does.
@_specialize(where S == Float)
@_specialize(where S == Double)
public func gumbelArgmax<S: ComputeScalar>(_ logits: UnsafePointer<S>, V: Int, temperature: Double,
                                           noise: UnsafeMutableBufferPointer<Double>?) -> Int {
    var best = 0
    if temperature == 0 {
        var bestValue = logits[0]
        for v in 1..<V where logits[v] > bestValue { best = v; bestValue = logits[v] }
        return best
    }
    guard let noise, noise.count >= V else { preconditionFailure("gumbelArgmax: temperature \(temperature) needs \(V) uniforms") }
    var bestValue = -Double.infinity
    for v in 0..<V {
        let g = -Foundation.log(noise[v])
        let denominator = temperature == 1 ? g : Foundation.pow(g, temperature)
        let score = Foundation.exp(Double(logits[v])) / denominator
        if v == 0 || score > bestValue { best = v; bestValue = score }
    }
    return best
}

/// `softmax(logits)[token]` computed in Float64 (LLaDA's `low_confidence` remasking:
/// `F.softmax(logits.to(torch.float64))` gathered at the sampled token).
@_specialize(where S == Float)
@_specialize(where S == Double)
public func softmaxProbability<S: ComputeScalar>(_ logits: UnsafePointer<S>, V: Int, token: Int) -> Double {
    var maxv = -Double.infinity
    for v in 0..<V { maxv = max(maxv, Double(logits[v])) }
    var sum = 0.0
    for v in 0..<V { sum += Foundation.exp(Double(logits[v]) - maxv) }
    return Foundation.exp(Double(logits[token]) - maxv) / sum
}

/// Classifier-free guidance in place over `count` logits: `cond = un + (scale + 1)·(cond − un)`
/// (LLaDA's `un_logits + (cfg_scale + 1) * (logits - un_logits)`, in the model's dtype).
@_specialize(where S == Float)
@_specialize(where S == Double)
public func classifierFreeGuidance<S: ComputeScalar>(_ cond: UnsafeMutablePointer<S>, _ un: UnsafePointer<S>, count: Int, scale: Double) {
    let w = S(scale + 1)
    for n in 0..<count { cond[n] = un[n] + w * (cond[n] - un[n]) }
}

/// Sets the logits of `tokens` to −∞ in one row.
@_specialize(where S == Float)
@_specialize(where S == Double)
public func suppress<S: ComputeScalar>(_ row: UnsafeMutablePointer<S>, tokens: [Int]) {
    for v in tokens { row[v] = -S.infinity }
}
