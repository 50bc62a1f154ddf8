import DLLMCompute
import DLLMRandom
@testable import DLLMModels
import XCTest

/// Whole-model backward against central finite differences in Float64, for each
/// architecture and attention-mask kind: every tensor is probed at a few elements.
final class ModelGradientTests: XCTestCase {
    static let tinyLLaDA = LlamaSpec(
        modelType: "llada", naming: .llada, hidden: 8, layers: 2, heads: 4, kvHeads: 2, headDim: 2,
        intermediate: 12, vocab: 11, rmsNormEps: 1e-5, ropeTheta: 500_000, maxPositions: 16,
        tiedEmbeddings: false, qkvBias: true, maskTokenID: 10, initializerRange: 0.5)
    static let tinyGPT2 = GPT2Configuration(vocabSize: 11, nEmbd: 8, nLayer: 2, nHead: 2, nPositions: 8,
                                            nInner: 12, layerNormEpsilon: 1e-5, activationFunction: "gelu_new",
                                            initializerRange: 0.5)

    func check<M: LanguageModel>(_ model: M, mask: AttentionMask, name: String, probesPerTensor: Int = 3) where M.Scalar == Double {
        let B = mask.B, T = mask.T, V = model.vocabularySize
        var rng = SeededGenerator(seed: 99)
        let ids = (0..<(B * T)).map { _ in Int32(rng.next() % UInt64(V)) }
        let targets = (0..<(B * T)).map { i in i % 3 == 1 ? ignoreIndex : Int32(rng.next() % UInt64(V)) }
        let weights = (0..<(B * T)).map { _ in 0.2 + rng.nextUniform() }
        let batch = TokenBatch(ids: ids, B: B, T: T)
        model.gradients.zero()
        model.forwardBackward(batch, mask: mask, targets: targets, weights: weights)
        let analytic = model.gradients.array
        func loss() -> Double {
            model.forward(batch, mask: mask)
            return model.loss(targets: targets, weights: weights)
        }
        let h = 1e-6
        var worst = 0.0
        for slot in model.layout.slots {
            for _ in 0..<probesPerTensor {
                let i = slot.offset + Int(rng.next() % UInt64(slot.count))
                let saved = model.parameters[i]
                model.parameters[i] = saved + h
                let plus = loss()
                model.parameters[i] = saved - h
                let minus = loss()
                model.parameters[i] = saved
                let numeric = (plus - minus) / (2 * h)
                let err = abs(numeric - analytic[i]) / max(1e-3, abs(numeric))
                worst = max(worst, err)
                XCTAssertLessThan(err, 1e-5, "\(name): \(slot.name) element \(i - slot.offset): analytic \(analytic[i]) numeric \(numeric)")
            }
        }
        XCTAssertGreaterThan(analytic.map(abs).max()!, 0, "\(name): all gradients are zero")
    }

    func masks(B: Int, T: Int) -> [(String, AttentionMask)] {
        let blockDiagonal = (0..<(B * T * T)).map { idx in
            let i = (idx / T) % T, j = idx % T
            return i / 3 == j / 3 || j < i  // block-causal: own block and earlier ones
        }
        return [
            ("bidirectional", AttentionMask(.bidirectional, B: B, T: T)),
            ("causal", AttentionMask(.causal, B: B, T: T)),
            ("padding", AttentionMask.padded(.bidirectional, lengths: [T, T - 2], T: T)),
            ("arbitrary", AttentionMask(.bidirectional, B: B, T: T, allowed: blockDiagonal)),
            // DiffuLLaMA's annealing at step 3 of 10 (causal OR Bernoulli(0.4)), with padding.
            ("annealed", AttentionAnnealing.mask(B: B, T: T, allowed: AttentionAnnealing(steps: 10).allowed(T: T, step: 3, seed: 5)!,
                                                 keyPadding: (0..<(B * T)).map { $0 % T < T - ($0 / T) })),
        ]
    }

    func testLlamaFamilyGradientsForEveryMask() {
        for (name, mask) in masks(B: 2, T: 5) {
            let model = LlamaModel<Double>(spec: Self.tinyLLaDA)
            Initialization.initialize(model, seed: 1)
            check(model, mask: mask, name: "llada \(name)")
        }
    }

    /// The tiled attention kernel and gradient checkpointing under the same finite differences.
    func testTiledAndCheckpointedGradientsForEveryMask() {
        for (name, mask) in masks(B: 2, T: 5) + [("block diffusion", AttentionMask.blockDiffusion(B: 2, L: 3, blockSize: 2))] {
            let model = LlamaModel<Double>(spec: Self.tinyLLaDA)
            Initialization.initialize(model, seed: 1)
            model.attentionKernel = .tiled
            model.gradientCheckpointing = name != "causal"
            check(model, mask: mask, name: "llada tiled \(name)")
        }
    }

    func testTiedLlamaGradients() {
        var spec = Self.tinyLLaDA
        spec.tiedEmbeddings = true
        spec.qkvBias = false
        spec.naming = .huggingFace
        let model = LlamaModel<Double>(spec: spec)
        XCTAssertNil(model.layout.slot("lm_head.weight"))
        Initialization.initialize(model, seed: 2)
        check(model, mask: AttentionMask(.causal, B: 2, T: 4), name: "tied llama")
    }

    /// Qwen3's per-head query/key norms, with head_dim (6) ≠ hidden / heads (2).
    func testQwen3QueryKeyNormGradientsForEveryMask() {
        var spec = Self.tinyLLaDA
        spec.naming = .huggingFace
        spec.qkvBias = false
        spec.qkNorm = true
        spec.headDim = 6
        spec.tiedEmbeddings = true
        for (name, mask) in masks(B: 2, T: 5) {
            let model = LlamaModel<Double>(spec: spec)
            Initialization.initialize(model, seed: 5)
            // Norm weights start at 1; vary them so a wrong weight gradient or index shows.
            for slot in model.layout.slots where slot.name.hasSuffix("_norm.weight") {
                for i in slot.range { model.parameters[i] = 0.7 + 0.1 * Double((i * 5) % 7) }
            }
            check(model, mask: mask, name: "qwen3 \(name)")
        }
    }

    func testGPT2GradientsForEveryMask() {
        for (name, mask) in masks(B: 2, T: 5) {
            let model = GPT2Model<Double>(config: Self.tinyGPT2)
            Initialization.initialize(model, seed: 3)
            // LayerNorm biases start at 0; give them values so their gradients are exercised.
            for slot in model.layout.slots where slot.name.hasSuffix(".bias") {
                for i in slot.range { model.parameters[i] = 0.1 * Double(i % 7) - 0.3 }
            }
            check(model, mask: mask, name: "gpt2 \(name)")
        }
    }

    /// GPT-2 and BERT with tiled attention, and with gradient checkpointing (every mask but causal,
    /// which runs tiled alone), against Float64 finite differences.
    func testGPT2AndBertTiledAndCheckpointedGradientsForEveryMask() {
        for (name, mask) in masks(B: 2, T: 5) + [("block diffusion", AttentionMask.blockDiffusion(B: 2, L: 3, blockSize: 2))] {
            let gpt2 = GPT2Model<Double>(config: Self.tinyGPT2)
            Initialization.initialize(gpt2, seed: 3)
            for slot in gpt2.layout.slots where slot.name.hasSuffix(".bias") {
                for i in slot.range { gpt2.parameters[i] = 0.1 * Double(i % 7) - 0.3 }
            }
            gpt2.attentionKernel = .tiled
            gpt2.gradientCheckpointing = name != "causal"
            check(gpt2, mask: mask, name: "gpt2 tiled \(name)")
            let bert = BertModel<Double>(config: Self.tinyBert)
            Initialization.initialize(bert, seed: 5)
            for slot in bert.layout.slots where slot.name.hasSuffix(".bias") || slot.name.hasSuffix("LayerNorm.weight") {
                for i in slot.range { bert.parameters[i] += 0.1 * Double(i % 7) - 0.3 }
            }
            bert.attentionKernel = .tiled
            bert.gradientCheckpointing = name != "causal"
            check(bert, mask: mask, name: "bert tiled \(name)")
        }
    }

    static let tinyBert = BertConfiguration(vocabSize: 11, hiddenSize: 8, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 12,
                                            maxPositionEmbeddings: 8, typeVocabSize: 2, layerNormEps: 1e-12, initializerRange: 0.5)

    /// BERT's post-LayerNorm blocks, token-type-0 embedding and tied bias-free head.
    func testBertGradientsForEveryMask() {
        for (name, mask) in masks(B: 2, T: 5) {
            let model = BertModel<Double>(config: Self.tinyBert)
            Initialization.initialize(model, seed: 5)
            for slot in model.layout.slots where slot.name.hasSuffix(".bias") || slot.name.hasSuffix("LayerNorm.weight") {
                for i in slot.range { model.parameters[i] += 0.1 * Double(i % 7) - 0.3 }
            }
            check(model, mask: mask, name: "bert \(name)")
        }
    }

    func testBackwardAccumulatesAcrossMicroBatches() {
        let model = LlamaModel<Double>(spec: Self.tinyLLaDA)
        Initialization.initialize(model, seed: 4)
        let batch = TokenBatch(ids: [1, 2, 3, 4, 5, 6], B: 1, T: 6)
        let mask = AttentionMask(.bidirectional, B: 1, T: 6)
        let targets: [Int32] = [1, -100, 3, 4, -100, 6]
        model.gradients.zero()
        model.forwardBackward(batch, mask: mask, targets: targets, weights: nil)
        let once = model.gradients.array
        model.forwardBackward(batch, mask: mask, targets: targets, weights: nil)
        let twice = model.gradients.array
        for i in once.indices { XCTAssertEqual(twice[i], 2 * once[i], accuracy: 1e-12) }
    }
}
