import DLLMCheckpoint
import DLLMCompute
import DLLMModels
import DLLMOptim
import Foundation
import XCTest

/// `bf16: true` (``LlamaModel/bf16Matmuls``, ``GPT2Model/bf16Matmuls``, ``BertModel/bf16Matmuls``)
/// against PyTorch (Tests/Fixtures/generate_bf16_fixtures.py) on the causal grouped-query LLaMA
/// fixture, the GPT-2 fixture (Conv1D weights, biases, tied head) and a small BERT (bidirectional
/// over a padded batch, tied head): one step against dllm's scheme spelled out in PyTorch (tight)
/// and against `torch.autocast("cpu", dtype=torch.bfloat16)` (within the bound
/// docs/mixed-precision.md derives), and 50 AdamW steps against the float32 run (LLaMA).
///
/// Without AVX512_BF16 the products run float32 sgemm over the same rounded values (the fallback),
/// so these tests run, and can fail, on every CPU.
final class BFloat16ParityTests: XCTestCase {
    typealias Reference = PyTorchParityTests.Reference
    static let gqa = PyTorchParityTests.fixtures.appendingPathComponent("llama_gqa")
    static let bf16 = PyTorchParityTests.fixtures.appendingPathComponent("bf16")
    static let gpt2 = PyTorchParityTests.fixtures.appendingPathComponent("gpt2")
    static let gpt2BF16 = PyTorchParityTests.fixtures.appendingPathComponent("bf16_gpt2")
    /// The small BERT: its config, weights, batch and the three references in one folder.
    static let bert = PyTorchParityTests.fixtures.appendingPathComponent("bf16_bert")

    /// The bf16 unit the bounds count in: one rounding to bfloat16 moves a value by at most
    /// 2⁻⁹ of it (round to nearest, 8 significant bits); 2⁻⁸ leaves a factor 2 of margin.
    static let u = 0x1p-8
    /// Roundings autocast makes that dllm does not, along the longest path from the embedding to
    /// the loss: per LLaMA block the q and k outputs before rotary, the score, P·V, o and down
    /// outputs and the SiLU·up product in bfloat16 (7; dllm rounds the rotated q and k, v and the
    /// probabilities too, as inputs of its bf16 attention products, and the gate and up outputs as
    /// autocast does), times 2 blocks, plus the logits (docs/mixed-precision.md). GPT-2's and
    /// BERT's blocks count the same 7: the score, its scaling, P·V, the attention output
    /// projection, the MLP's first output, GELU computed in bfloat16 and the MLP's second output
    /// (their q, k, v outputs are rounded once either way: autocast stores them in bf16, dllm
    /// rounds the same float32 values as its attention's inputs).
    static let autocastOnlyRoundings = 15.0

    /// max|a − b| / max|b| over a whole tensor, in Float64.
    func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        let difference = zip(a, b).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) }
        return difference / max(b.reduce(0.0) { max($0, abs(Double($1))) }, 1e-12)
    }

    func bf16Model() throws -> LlamaModel<Float> {
        let model = try XCTUnwrap(try ModelFolder.load(Self.gqa, as: Float.self).model as? LlamaModel<Float>)
        XCTAssertTrue(model.supportsBF16Matmuls)
        model.setBF16Matmuls(true)
        return model
    }

    func testOneStepMatchesRoundedLinearsAndAutocast() throws {
        try checkOneStep("llama_gqa", try bf16Model(), Reference(Self.gqa), fixture: Self.bf16)
    }

    /// GPT-2: the Conv1D (in, out) products, their biases and the tied head in bf16.
    func testGPT2OneStepMatchesRoundedLinearsAndAutocast() throws {
        let model = try XCTUnwrap(try ModelFolder.load(Self.gpt2, as: Float.self).model as? GPT2Model<Float>)
        XCTAssertTrue(model.supportsBF16Matmuls)
        model.setBF16Matmuls(true)
        try checkOneStep("gpt2", model, Reference(Self.gpt2), fixture: Self.gpt2BF16)
    }

    /// BERT: the fused q/k/v, output and MLP linears with biases, bidirectional attention over a
    /// padded batch and the tied head in bf16.
    func testBertOneStepMatchesRoundedLinearsAndAutocast() throws {
        let loaded = try ModelFolder.load(Self.bert, as: Float.self)
        XCTAssertFalse(loaded.randomlyInitialized)
        let model = try XCTUnwrap(loaded.model as? BertModel<Float>)
        XCTAssertTrue(model.supportsBF16Matmuls)
        model.setBF16Matmuls(true)
        try checkOneStep("bert", model, Reference(Self.bert), fixture: Self.bert)
    }

    /// One bf16 forward, loss and backward of `model` on `ref`'s batch against the fixture's
    /// `rounded` (tight: float32 sums of the same bf16 products) and `autocast` (the derived bound)
    /// references, and away from its `fp32` loss (the bf16 path ran).
    func checkOneStep<M: LanguageModel>(_ name: String, _ model: M, _ ref: Reference, fixture folder: URL) throws where M.Scalar == Float {
        let fixture = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("reference.safetensors"))
        model.gradients.zero()
        model.forward(ref.batch, mask: ref.mask)
        let logits = Array(UnsafeBufferPointer(start: model.logits, count: ref.B * ref.T * model.vocabularySize))
        let loss = model.loss(targets: ref.targets, weights: ref.weights)
        model.backward(targets: ref.targets, weights: ref.weights, dloss: 1)

        let rounded = Double(try fixture.floats("rounded.loss")[0]), autocast = Double(try fixture.floats("autocast.loss")[0])
        let fp32 = Double(try fixture.floats("fp32.loss")[0])
        // dllm's scheme: products of bf16 values are exact in float32, so only the order of the
        // float32 sums differs from PyTorch's.
        XCTAssertLessThan(relativeError(logits, try fixture.floats("rounded.logits")), 1e-4, "\(name): logits vs rounded linears")
        XCTAssertEqual(loss, rounded, accuracy: 1e-5 * abs(rounded), "\(name): loss vs rounded linears")
        // The bf16 path ran: its loss is off float32's by far more than the float32 tolerance.
        XCTAssertGreaterThan(abs(loss - fp32), 10 * 1e-5 * abs(fp32), "\(name): bf16 loss equals the float32 loss: bf16 path not taken")
        // Autocast: first-order, each extra rounding moves the logits by at most u of their size.
        let autocastBound = Self.autocastOnlyRoundings * Self.u
        XCTAssertEqual(loss, autocast, accuracy: autocastBound * abs(autocast), "\(name): loss vs autocast")
        // A tensor whose float32 gradient is zero up to float32 rounding (BERT's and GPT-2's key
        // biases: a key bias adds q · b to every score of a query row, which softmax ignores)
        // holds only rounding noise under bf16, different noise under autocast: that one is
        // measured against the largest gradient of the model instead of its own.
        let fp32Gradients = try model.layout.slots.map { try fixture.floats("fp32.grad." + $0.name) }
        let largest = fp32Gradients.map { $0.reduce(0.0) { max($0, abs(Double($1))) } }
        let modelLargest = largest.max() ?? 0
        var worstRounded = 0.0, worstAutocast = 0.0
        for (index, slot) in model.layout.slots.enumerated() {
            let ours = Array(model.gradients.buffer[slot.range])
            let toRounded = relativeError(ours, try fixture.floats("rounded.grad." + slot.name))
            let autocastGradient = try fixture.floats("autocast.grad." + slot.name)
            let toAutocast = largest[index] < 1e-5 * modelLargest
                ? zip(ours, autocastGradient).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) } / modelLargest
                : relativeError(ours, autocastGradient)
            XCTAssertLessThan(toRounded, 1e-4, "\(name): gradient of \(slot.name) vs rounded linears")
            // Backward adds as many roundings again (the output gradients of each product).
            XCTAssertLessThan(toAutocast, 2 * autocastBound, "\(name): gradient of \(slot.name) vs autocast")
            worstRounded = max(worstRounded, toRounded)
            worstAutocast = max(worstAutocast, toAutocast)
        }
        print("\(name) bf16 step: loss \(loss), rounded \(rounded), autocast \(autocast), fp32 \(fp32); "
              + "worst gradient rel err vs rounded \(worstRounded), vs autocast \(worstAutocast)")
    }

    /// 50 AdamW steps on the fixture batch: bf16 and float32 runs from the same weights. Each step's
    /// loss gap must stay within the one-step forward bound, 28 u: 2 input roundings per product on
    /// the longest path (q, Q·Kᵀ, P·V, o, gate, down per block, 2 blocks, then the head) and the
    /// gate output's own rounding per block. The weights' drift
    /// apart is not bounded a priori: AdamW's normalised updates hardly depend on a gradient's
    /// relative error of order u, and the test checks that the drift stays inside that one-step
    /// bound over 50 steps (docs/mixed-precision.md has the measured gap).
    func testFiftyStepsTrackFloat32Losses() throws {
        let ref = try Reference(Self.gqa)
        let fp32 = try XCTUnwrap(try ModelFolder.load(Self.gqa, as: Float.self).model as? LlamaModel<Float>)
        let bf16 = try bf16Model()
        let config = AdamWConfig(learningRate: 2e-3, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1)
        var states: [(LlamaModel<Float>, Buffer<Float>, Buffer<Float>)] = []
        for model in [fp32, bf16] { states.append((model, Buffer(count: model.parameterCount), Buffer(count: model.parameterCount))) }
        var worst = 0.0, losses: [[Double]] = [[], []]
        for step in 1...50 {
            for (index, (model, m, v)) in states.enumerated() {
                model.gradients.zero()
                let loss = model.forwardBackward(ref.batch, mask: ref.mask, targets: ref.targets, weights: ref.weights)
                let all = 0..<model.parameterCount
                _ = GradientClipping.clip(model.gradients.pointer, range: all, maxNorm: 1)
                AdamW.step(params: model.parameters.pointer, grads: UnsafePointer(model.gradients.pointer), m: m.pointer, v: v.pointer,
                           range: all, step: step, config: config, decayMask: model.weightDecayMask())
                losses[index].append(loss)
            }
            let gap = abs(losses[1][step - 1] - losses[0][step - 1]) / abs(losses[0][step - 1])
            worst = max(worst, gap)
            XCTAssertLessThan(gap, Self.fiftyStepBound, "loss at step \(step): bf16 \(losses[1][step - 1]) vs fp32 \(losses[0][step - 1])")
        }
        XCTAssertLessThan(losses[1][49], 0.8 * losses[1][0], "bf16 training lowers the loss")
        print("50 steps: fp32 \(losses[0][0]) -> \(losses[0][49]), bf16 \(losses[1][0]) -> \(losses[1][49]); worst relative loss gap \(worst)")
    }

    static let fiftyStepBound = 28 * u
}
