import DLLMCompute
import DLLMOptim
import DLLMRandom
@testable import DLLMModels
import XCTest

/// The memory savers change where intermediates live, never what is computed:
/// gradient checkpointing gives the very same weights after 10 AdamW steps, the tiled
/// attention the same losses and gradients as the full one (to fp32 rounding), and a
/// smaller batch reuses the activation buffers with the same results as a fresh model.
final class MemorySavingTests: XCTestCase {
    static var spec: LlamaSpec {
        var s = ModelGradientTests.tinyLLaDA
        s.maxPositions = 64
        return s
    }

    /// Ten AdamW steps over batches of alternating shapes and masks; returns the final parameters and losses.
    func train(kernel: AttentionKernel, checkpointing: Bool, spec: LlamaSpec = spec) -> (parameters: [Float], losses: [Double]) {
        let model = LlamaModel<Float>(spec: spec)
        model.attentionKernel = kernel
        model.gradientCheckpointing = checkpointing
        return train(model)
    }

    /// Ten AdamW steps of `model` (initialised here) over batches of alternating shapes and masks.
    func train<M: LanguageModel>(_ model: M) -> (parameters: [Float], losses: [Double]) where M.Scalar == Float {
        Initialization.initialize(model, seed: 3)
        let vocab = model.vocabularySize
        let count = model.parameterCount
        let m = Buffer<Float>(count: count), v = Buffer<Float>(count: count)
        let config = AdamWConfig(learningRate: 1e-2, weightDecay: 0.1)
        var rng = SeededGenerator(seed: 8)
        var losses: [Double] = []
        for step in 1...10 {
            let (B, T) = step % 2 == 0 ? (2, 40) : (1, 33)
            let masks = [AttentionMask(.bidirectional, B: B, T: T), AttentionMask(.causal, B: B, T: T),
                         AttentionMask.padded(.bidirectional, lengths: (0..<B).map { T - 3 * $0 }, T: T),
                         AttentionMask.blockDiffusion(B: B, L: T / 2, blockSize: 4).resized(T: T)]
            let mask = masks[step % masks.count]
            let ids = (0..<(B * T)).map { _ in Int32(rng.next() % UInt64(vocab)) }
            let targets = (0..<(B * T)).map { _ in Int32(rng.next() % UInt64(vocab)) }
            let weights = [Float](repeating: 1 / Float(B * T), count: B * T)
            model.gradients.zero()
            losses.append(model.forwardBackward(TokenBatch(ids: ids, B: B, T: T), mask: mask, targets: targets, weights: weights))
            AdamW.step(params: model.parameters.pointer, grads: UnsafePointer(model.gradients.pointer), m: m.pointer, v: v.pointer,
                       range: 0..<count, step: step, config: config)
        }
        return (model.parameters.array, losses)
    }

    /// GPT-2 and BERT under the same ten steps: checkpointing gives the very same weights with
    /// either kernel, and tiled attention the full kernel's losses to float32 rounding.
    func testGPT2AndBertCheckpointingAndTiling() {
        var gpt2 = ModelGradientTests.tinyGPT2
        gpt2.nPositions = 64
        var bert = ModelGradientTests.tinyBert
        bert.maxPositionEmbeddings = 64
        let builders: [(String, (AttentionKernel, Bool) -> (parameters: [Float], losses: [Double]))] = [
            ("gpt2", { kernel, checkpointing in
                let model = GPT2Model<Float>(config: gpt2)
                model.attentionKernel = kernel
                model.gradientCheckpointing = checkpointing
                return self.train(model) }),
            ("bert", { kernel, checkpointing in
                let model = BertModel<Float>(config: bert)
                model.attentionKernel = kernel
                model.gradientCheckpointing = checkpointing
                return self.train(model) }),
        ]
        for (name, run) in builders {
            for kernel in [AttentionKernel.full, .tiled] {
                let plain = run(kernel, false), checkpointed = run(kernel, true)
                XCTAssertEqual(plain.losses, checkpointed.losses, "\(name) \(kernel): losses")
                XCTAssertEqual(plain.parameters, checkpointed.parameters, "\(name) \(kernel): weights after 10 steps")
            }
            let full = run(.full, false), tiled = run(.tiled, false)
            for (a, b) in zip(tiled.losses, full.losses) { XCTAssertEqual(a, b, accuracy: 1e-5 * abs(b), "\(name): tiled loss") }
            XCTAssertNotEqual(tiled.parameters, full.parameters, "\(name): the tiled kernel ran (its sums differ in order)")
        }
    }

    func testCheckpointedTrainingGivesIdenticalWeights() {
        for kernel in [AttentionKernel.full, .tiled] {
            let plain = train(kernel: kernel, checkpointing: false)
            let checkpointed = train(kernel: kernel, checkpointing: true)
            XCTAssertEqual(plain.losses, checkpointed.losses, "\(kernel): losses")
            XCTAssertEqual(plain.parameters, checkpointed.parameters, "\(kernel): weights after 10 steps")
        }
        var qwen3 = Self.spec
        qwen3.qkNorm = true
        qwen3.naming = .huggingFace
        XCTAssertEqual(train(kernel: .tiled, checkpointing: false, spec: qwen3).parameters,
                       train(kernel: .tiled, checkpointing: true, spec: qwen3).parameters, "qwen3 (qk norms): weights after 10 steps")
        // LLaDA-MoE's sparse MLP: checkpointed, every MoE layer refills one shared set of expert
        // arenas (recomputed before its backward), plain keeps one per layer.
        var moe = Self.spec
        moe.naming = .huggingFace
        moe.mixtureOfExperts = MixtureOfExpertsSpec(experts: 4, topK: 2, expertIntermediate: 6, sharedIntermediate: 10,
                                                    moeLayers: [Bool](repeating: true, count: moe.layers))
        let moePlain = train(kernel: .tiled, checkpointing: false, spec: moe)
        XCTAssertEqual(moePlain.parameters, train(kernel: .tiled, checkpointing: true, spec: moe).parameters,
                       "LLaDA-MoE: weights after 10 steps")
        XCTAssertNotEqual(moePlain.parameters, train(kernel: .tiled, checkpointing: false).parameters, "the MoE layers ran")
    }

    func testTiledAttentionTrainsLikeFullAttention() {
        let full = train(kernel: .full, checkpointing: false)
        let tiled = train(kernel: .tiled, checkpointing: false)
        for (a, b) in zip(tiled.losses, full.losses) { XCTAssertEqual(a, b, accuracy: 1e-5 * abs(b)) }
        var worst: Float = 0
        for (a, b) in zip(tiled.parameters, full.parameters) { worst = max(worst, abs(a - b)) }
        XCTAssertLessThan(worst, 1e-4, "weights after 10 AdamW steps (lr 1e-2)")
    }

    /// A (1, 9) batch after a (2, 12) one runs in the larger buffers' prefixes: logits equal a fresh model's.
    func testSmallerBatchReusesBuffersWithSameResults() {
        let reused = LlamaModel<Float>(spec: Self.spec), fresh = LlamaModel<Float>(spec: Self.spec)
        Initialization.initialize(reused, seed: 4)
        Initialization.initialize(fresh, seed: 4)
        for model in [reused, fresh] { model.attentionKernel = .full }
        reused.forward(TokenBatch(ids: (0..<24).map { Int32($0 % 11) }, B: 2, T: 12), mask: AttentionMask(.bidirectional, B: 2, T: 12))
        let buffers = ObjectIdentifier(reused.acts!)
        let small = TokenBatch(ids: (0..<9).map { Int32(($0 * 7) % 11) }, B: 1, T: 9)
        for model in [reused, fresh] { model.forward(small, mask: AttentionMask(.causal, B: 1, T: 9)) }
        XCTAssertEqual(ObjectIdentifier(reused.acts!), buffers, "the smaller batch reallocated")
        let V = Self.spec.vocab
        XCTAssertEqual(Array(UnsafeBufferPointer(start: reused.logits, count: 9 * V)),
                       Array(UnsafeBufferPointer(start: fresh.logits, count: 9 * V)))
    }
}

/// GPT-2 and BERT keep their activations for later batches that fit, as the LLaMA family does:
/// a shorter batch after a longer one runs on the same buffers and gives a fresh model's logits,
/// loss and gradients bit for bit (issue 19's variable-length batches).
final class VariableLengthBatchTests: XCTestCase {
    /// `capacity` reads the reused model's activation rows (a reallocation for the shorter batch would shrink them).
    func check<M: LanguageModel>(_ reused: M, _ fresh: M, capacity: () -> Int?, _ name: String) where M.Scalar == Float {
        Initialization.initialize(reused, seed: 6)
        Initialization.initialize(fresh, seed: 6)
        let long = TokenBatch(ids: (0..<16).map { Int32($0 % 11) }, B: 2, T: 8)
        reused.forward(long, mask: AttentionMask(.bidirectional, B: 2, T: 8))
        XCTAssertEqual(capacity(), 16, name)
        let short = TokenBatch(ids: (0..<10).map { Int32(($0 * 7) % 11) }, B: 2, T: 5)
        let padding = [true, true, true, true, true, true, true, true, false, false]
        let mask = AttentionMask(.causal, B: 2, T: 5, keyPadding: padding)
        let targets: [Int32] = (0..<10).map { Int32(($0 * 3) % 11) }, weights: [Float] = (0..<10).map { $0 < 8 ? 0.1 : 0 }
        var results: [(logits: [UInt32], loss: UInt64, gradients: [UInt32])] = []
        for model in [reused, fresh] {
            model.gradients.zero()
            model.forward(short, mask: mask)
            let logits = UnsafeBufferPointer(start: model.logits, count: 10 * model.vocabularySize).map(\.bitPattern)
            let loss = model.loss(targets: targets, weights: weights)
            model.backward(targets: targets, weights: weights, dloss: 1)
            results.append((logits, loss.bitPattern, model.gradients.buffer.map(\.bitPattern)))
        }
        XCTAssertEqual(capacity(), 16, "\(name): the shorter batch reallocated")
        XCTAssertEqual(results[0].logits, results[1].logits, "\(name): logits")
        XCTAssertEqual(results[0].loss, results[1].loss, "\(name): loss")
        XCTAssertEqual(results[0].gradients, results[1].gradients, "\(name): gradients")
        XCTAssertTrue(results[0].gradients.contains { $0 != 0 }, "\(name): backward ran")
    }

    func testGPT2ReusesItsBuffersForAShorterBatch() {
        let reused = GPT2Model<Float>(config: ModelGradientTests.tinyGPT2), fresh = GPT2Model<Float>(config: ModelGradientTests.tinyGPT2)
        check(reused, fresh, capacity: { reused.acts?.rows }, "gpt2")
    }

    func testBertReusesItsBuffersForAShorterBatch() {
        let reused = BertModel<Float>(config: ModelGradientTests.tinyBert), fresh = BertModel<Float>(config: ModelGradientTests.tinyBert)
        check(reused, fresh, capacity: { reused.acts?.rows }, "bert")
    }
}

extension AttentionMask {
    /// This mask for sequences of `T` ≥ its length: the extra (odd) position sees only itself.
    func resized(T newT: Int) -> AttentionMask {
        if newT == T { return self }
        return AttentionMask(base, B: B, T: newT, allowed: (0..<(B * newT * newT)).map { idx in
            let b = idx / (newT * newT), i = (idx / newT) % newT, j = idx % newT
            return i < T && j < T ? allows(b, i, j) : i == j
        })
    }
}
