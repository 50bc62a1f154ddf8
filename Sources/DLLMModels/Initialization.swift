import DLLMCompute
import DLLMRandom

/// Random initialisation for pretraining from scratch (a model folder with only
/// `config.json`), as HF's `_init_weights` does for these architectures:
/// matrices and embeddings ~ N(0, σ²) with σ from ``ModelArchitecture/initialStandardDeviation(of:)``
/// (`initializer_range`; GPT-2 scales its residual projections), norm weights 1, biases 0.
public enum Initialization {
    public static func initialize<M: LanguageModel>(_ model: M, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let p = model.parameters.pointer
        let architecture = model.architecture
        for slot in model.layout.slots {
            let r = slot.range
            if slot.name.hasSuffix(".bias") {
                for i in r { p[i] = 0 }
            } else if slot.shape.count == 1 {
                for i in r { p[i] = 1 }
            } else {
                let s = architecture.initialStandardDeviation(of: slot.name)
                for i in r { p[i] = M.Scalar(rng.nextGaussian() * s) }
            }
        }
    }
}
