import DLLMCompute
import DLLMOptim
import DLLMRandom
@testable import DLLMModels
import XCTest

/// Gradient checkpointing under LoRA recomputes each block in backward, the adapter path (its dropout
/// masks drawn again) and the frozen products included: the adapters after a few AdamW steps are the
/// ones the plain run trains, bit for bit, and the base (fp32 buffer and quantised bytes) is untouched.
final class LoRACheckpointingTests: XCTestCase {
    /// Five AdamW steps of LoRA (dropout 0.1, all-linear) over `base`; returns the adapters, losses and the base afterwards.
    func train(frozen target: FrozenQuantizedMatrix.QuantizeTarget?, kernel: AttentionKernel, checkpointing: Bool)
        throws -> (adapters: [Float], losses: [Double], base: [Float], frozenBytes: [UInt8]) {
        let base = LlamaModel<Float>(spec: FrozenLlamaBaseTests.spec)
        Initialization.initialize(base, seed: 5)
        if let target { base.frozenBase = try base.frozenBaseCopy(target) }
        base.attentionKernel = kernel
        base.gradientCheckpointing = checkpointing
        let model = try LoRAModel(base: base, configuration: LoRAConfiguration(r: 4, loraAlpha: 8, loraDropout: 0.1), seed: 2)
        // B starts at zero; give it values so the adapters change the loss from the first step.
        for slot in model.adapters.slots.flatMap(\.values) {
            for i in 0..<(slot.outputs * model.adapters.configuration.r) { model.parameters[slot.b + i] = Float(i % 7) * 0.01 - 0.03 }
        }
        let count = model.parameterCount
        let m = Buffer<Float>(count: count), v = Buffer<Float>(count: count)
        let config = AdamWConfig(learningRate: 1e-2, weightDecay: 0.1)
        var rng = SeededGenerator(seed: 8)
        var losses: [Double] = []
        let spec = base.spec
        for step in 1...5 {
            let (B, T) = step % 2 == 0 ? (2, 12) : (1, 16)
            let ids = (0..<(B * T)).map { _ in Int32(rng.next() % UInt64(spec.vocab)) }
            let targets = (0..<(B * T)).map { _ in Int32(rng.next() % UInt64(spec.vocab)) }
            let weights = [Float](repeating: 1 / Float(B * T), count: B * T)
            model.gradients.zero()
            model.setDropoutStream(UInt64(step))
            losses.append(model.forwardBackward(TokenBatch(ids: ids, B: B, T: T), mask: AttentionMask(.bidirectional, B: B, T: T),
                                                targets: targets, weights: weights))
            AdamW.step(params: model.parameters.pointer, grads: UnsafePointer(model.gradients.pointer), m: m.pointer, v: v.pointer,
                       range: 0..<count, step: step, config: config)
        }
        let matrices = (base.frozenBase?.layers.flatMap(\.all) ?? []).compactMap { $0 }
        let bytes = matrices.flatMap { Array(UnsafeRawBufferPointer(start: $0.data, count: $0.byteCount)) }
        return (model.parameters.array, losses, base.parameters.array, bytes)
    }

    func testCheckpointedLoRATrainsTheSameAdaptersAndLeavesTheBase() throws {
        for target in [nil, FrozenQuantizedMatrix.QuantizeTarget.q8_0, .nf4] {
            for kernel in [AttentionKernel.full, .tiled] {
                let label = "\(target.map(\.rawValue) ?? "f32") base, \(kernel)"
                let plain = try train(frozen: target, kernel: kernel, checkpointing: false)
                let checkpointed = try train(frozen: target, kernel: kernel, checkpointing: true)
                XCTAssertTrue(plain.losses.allSatisfy(\.isFinite), label)
                XCTAssertNotEqual(plain.losses[0], plain.losses[4], "\(label): the adapters trained")
                XCTAssertEqual(plain.losses, checkpointed.losses, "\(label): losses")
                XCTAssertEqual(plain.adapters, checkpointed.adapters, "\(label): adapters after 5 steps")

                // The base: the fp32 buffer and the quantised bytes equal a fresh copy's.
                let fresh = LlamaModel<Float>(spec: FrozenLlamaBaseTests.spec)
                Initialization.initialize(fresh, seed: 5)
                XCTAssertEqual(checkpointed.base, fresh.parameters.array, "\(label): the fp32 base changed")
                if let target {
                    let copy = try fresh.frozenBaseCopy(target)
                    let bytes = copy.layers.flatMap(\.all).compactMap { $0 }.flatMap { Array(UnsafeRawBufferPointer(start: $0.data, count: $0.byteCount)) }
                    XCTAssertEqual(checkpointed.frozenBytes, bytes, "\(label): the quantised base changed")
                }
            }
        }
    }
}
