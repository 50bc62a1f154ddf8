import DLLMCompute
import DLLMRandom

/// Random initialisation for pretraining from scratch (a model folder with only
/// `config.json`), as HF's `_init_weights` does for these architectures:
/// matrices and embeddings ~ N(0, initializer_range²), norm weights 1, biases 0;
/// GPT-2's residual projections (`c_proj`) scaled by 1/√(2·n_layer) (Radford et al. 2019).
public enum Initialization {
    public static func initialize<M: LanguageModel>(_ model: M, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let p = model.parameters.pointer
        let (std, residualScale): (Double, Double) = {
            switch model.architecture {
            case .llamaFamily(let s): return (s.initializerRange, 1)
            case .gpt2(let c): return (c.initializerRange ?? 0.02, 1 / (2 * Double(c.nLayer)).squareRoot())
            }
        }()
        for slot in model.layout.slots {
            let r = slot.range
            if slot.name.hasSuffix(".bias") {
                for i in r { p[i] = 0 }
            } else if slot.shape.count == 1 {
                for i in r { p[i] = 1 }
            } else {
                var s = std
                if case .gpt2 = model.architecture, slot.name.hasSuffix("c_proj.weight") { s *= residualScale }
                for i in r { p[i] = M.Scalar(rng.nextGaussian() * s) }
            }
        }
    }
}
