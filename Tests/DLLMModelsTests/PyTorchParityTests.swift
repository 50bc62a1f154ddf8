import DLLMCheckpoint
import DLLMCompute
import DLLMModels
import DLLMOptim
import Foundation
import XCTest

/// Logits, loss, every parameter gradient and ten AdamW steps against PyTorch and
/// `transformers` (fixtures from Tests/Fixtures/generate_model_fixtures.py), for a
/// bidirectional LLaDA, a causal grouped-query LLaMA, a Qwen2 with QKV biases and
/// tied embeddings, a Qwen3 with per-head query/key norms and head_dim ≠ hidden/heads,
/// and a GPT-2 — each loaded from its Hugging Face-layout folder.
final class PyTorchParityTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Reference {
        let file: SafeTensorsFile
        let json: [String: Any]
        let B: Int, T: Int
        let batch: TokenBatch
        let mask: AttentionMask
        let targets: [Int32]
        let weights: [Float]

        init(_ folder: URL) throws {
            file = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("reference.safetensors"))
            json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("reference.json"))) as! [String: Any]
            B = json["batch"] as! Int
            T = json["seq_len"] as! Int
            let ids = try file.int64s("input_ids").map { Int32($0) }
            let positions = try file.int64s("position_ids").map { Int32($0) }
            batch = TokenBatch(ids: ids, B: B, T: T, positions: positions)
            let padding = try file.int64s("key_padding").map { $0 != 0 }
            let base: AttentionMask.Base = (json["attention"] as! String) == "causal" ? .causal : .bidirectional
            mask = AttentionMask(base, B: B, T: T, keyPadding: padding)
            targets = try file.int64s("targets").map { Int32($0) }
            weights = try file.floats("weights")
        }
    }

    /// max|a − b| / max|b|, the relative error of a whole tensor.
    func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        let scale = max(b.map(abs).max() ?? 0, 1e-12)
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    func checkForwardAndGradients(_ name: String) throws {
        let folder = Self.fixtures.appendingPathComponent(name)
        let ref = try Reference(folder)
        let loaded = try ModelFolder.load(folder, as: Float.self)
        XCTAssertFalse(loaded.randomlyInitialized)
        let model = loaded.model
        let V = model.vocabularySize
        model.gradients.zero()
        model.forward(ref.batch, mask: ref.mask)
        let logits = Array(UnsafeBufferPointer(start: model.logits, count: ref.B * ref.T * V))
        let logitError = relativeError(logits, try ref.file.floats("logits"))
        XCTAssertLessThan(logitError, 1e-4, "\(name): logits")
        let loss = model.loss(targets: ref.targets, weights: ref.weights)
        let refLoss = Double(try ref.file.floats("loss")[0])
        XCTAssertEqual(loss, refLoss, accuracy: 1e-5 * abs(refLoss), "\(name): loss")
        model.backward(targets: ref.targets, weights: ref.weights, dloss: 1)
        var worst: (Float, String) = (0, "")
        for slot in model.layout.slots {
            let refGrad = try ref.file.floats("grad." + slot.name)
            let ours = Array(model.gradients.buffer[slot.range])
            let err = relativeError(ours, refGrad)
            if err > worst.0 { worst = (err, slot.name) }
            XCTAssertLessThan(err, 1e-4, "\(name): gradient of \(slot.name)")
        }
        print("\(name): logits rel err \(logitError), loss \(loss) vs \(refLoss), worst gradient rel err \(worst.0) (\(worst.1))")
    }

    func checkAdamWSteps(_ name: String) throws {
        let folder = Self.fixtures.appendingPathComponent(name)
        let ref = try Reference(folder)
        let model = try ModelFolder.load(folder, as: Float.self).model
        let adam = ref.json["adamw"] as! [String: Any]
        let config = AdamWConfig(learningRate: adam["lr"] as! Double, beta1: adam["beta1"] as! Double,
                                 beta2: adam["beta2"] as! Double, epsilon: adam["eps"] as! Double,
                                 weightDecay: adam["weight_decay"] as! Double)
        let maxNorm = adam["max_grad_norm"] as! Double
        let refLosses = try ref.file.floats("adamw_losses"), refNorms = try ref.file.floats("adamw_grad_norms")
        let m = Buffer<Float>(count: model.parameterCount), v = Buffer<Float>(count: model.parameterCount)
        let all = 0..<model.parameterCount
        // HF Trainer's default grouping: the tensors our mask leaves undecayed are the ones the fixture's
        // `Trainer.get_decay_parameter_names` left out.
        let decayMask = model.weightDecayMask()
        let undecayed = model.layout.slots.filter { decayMask[$0.offset] == 0 }.map(\.name)
        XCTAssertEqual(undecayed.sorted(), (ref.json["no_decay"] as! [String]).sorted(), "\(name): weight decay groups")
        for slot in model.layout.slots {
            XCTAssertEqual(Set(decayMask[slot.range]).count, 1, "\(name): \(slot.name) is decayed in part")
        }
        for step in 1...(adam["steps"] as! Int) {
            model.gradients.zero()
            let loss = model.forwardBackward(ref.batch, mask: ref.mask, targets: ref.targets, weights: ref.weights)
            let norm = GradientClipping.clip(model.gradients.pointer, range: all, maxNorm: maxNorm)
            AdamW.step(params: model.parameters.pointer, grads: UnsafePointer(model.gradients.pointer), m: m.pointer, v: v.pointer,
                       range: all, step: step, config: config, decayMask: decayMask)
            let r = Double(refLosses[step - 1])
            XCTAssertEqual(loss, r, accuracy: 1e-5 * abs(r), "\(name): loss before step \(step)")
            XCTAssertEqual(norm, Double(refNorms[step - 1]), accuracy: 1e-4 * Double(refNorms[step - 1]), "\(name): grad norm at step \(step)")
        }
        for slot in model.layout.slots {
            var ours = Array(model.parameters.buffer[slot.range]), theirs = try ref.file.floats("final." + slot.name)
            // A key bias adds the same q·b to every score of a query, which softmax ignores: its
            // gradient is zero in exact arithmetic, so both sides' "gradients" are rounding noise
            // that AdamW normalises into full-size steps. Those elements are not comparable.
            for i in keyBiasElements(slot, model: model) { ours[i] = 0; theirs[i] = 0 }
            let err = relativeError(ours, theirs)
            XCTAssertLessThan(err, 1e-5, "\(name): \(slot.name) after 10 AdamW steps")
        }
    }

    /// Indices within `slot` that are key-projection biases (whose true gradient is 0).
    func keyBiasElements(_ slot: TensorSlot, model: any LanguageModel<Float>) -> Range<Int> {
        if slot.name.hasSuffix("k_proj.bias") { return 0..<slot.count }
        if slot.name.hasSuffix("attn.c_attn.bias") { let C = slot.count / 3; return C..<(2 * C) }
        return 0..<0
    }

    func testLLaDABidirectionalWithPadding() throws { try checkForwardAndGradients("llada") }
    func testLlamaCausalGroupedQuery() throws { try checkForwardAndGradients("llama_gqa") }
    func testQwen2BiasesAndTiedEmbeddings() throws { try checkForwardAndGradients("qwen2") }
    func testGPT2Conv1DLayout() throws { try checkForwardAndGradients("gpt2") }
    func testQwen3QueryKeyNormsAndWideHeads() throws { try checkForwardAndGradients("qwen3") }
    /// Dream's folder (its own config keys) under its shifted CART loss (Tests/Fixtures/generate_dream.py).
    func testDreamBidirectionalShiftedCARTLoss() throws { try checkForwardAndGradients("dream") }
    /// LLaDA-MoE: a dense layer, then two with a softmax top-2 router over 6 SwiGLU experts and a shared
    /// expert, per-head q/k norms (Tests/Fixtures/generate_lladamoe.py, checked against modeling_lladamoe.py).
    func testLLaDAMoESparseExpertsAndRouter() throws { try checkForwardAndGradients("lladamoe") }

    /// The inference path (no saved activations, the sparse MLP on the flat matrices) gives the training logits.
    func testLLaDAMoEInferenceLogitsEqualTrainingLogits() throws {
        let folder = Self.fixtures.appendingPathComponent("lladamoe")
        let ref = try Reference(folder)
        let model = try ModelFolder.load(folder, as: Float.self).model
        model.forward(ref.batch, mask: ref.mask)
        let training = Array(UnsafeBufferPointer(start: model.logits, count: ref.B * ref.T * model.vocabularySize))
        let inference = inferenceModel(model).bidirectionalLogits(ids: ref.batch.ids, B: ref.B, T: ref.T)
        XCTAssertLessThan(relativeError(inference, training), 1e-5)
        XCTAssertLessThan(relativeError(inference, try ref.file.floats("logits")), 1e-4)
    }

    func testLLaDAAdamWSteps() throws { try checkAdamWSteps("llada") }
    func testLlamaAdamWSteps() throws { try checkAdamWSteps("llama_gqa") }
    func testQwen2AdamWSteps() throws { try checkAdamWSteps("qwen2") }
    func testGPT2AdamWSteps() throws { try checkAdamWSteps("gpt2") }
    func testQwen3AdamWSteps() throws { try checkAdamWSteps("qwen3") }
}
