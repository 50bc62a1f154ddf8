import DLLMCompute
import Foundation
import XCTest
@testable import DLLMModels

/// `bf16: true` on LLaDA-MoE's sparse MLP (``mixtureOfExpertsForward``): the router's and the
/// experts' products in bfloat16 as autocast runs `nn.Linear`, on the LLaDA-MoE fixture's weights
/// (Tests/Fixtures/lladamoe: 6 experts, top 2, a shared expert). Against the float32 MLP on the
/// same input, every output and gradient moves by a few bf16 units and not less. Without
/// AVX512_BF16 the products run float32 sgemm over the same rounded values (the fallback), so the
/// test runs, and can fail, on every CPU.
final class MixtureOfExpertsBF16Tests: XCTestCase {
    /// One bf16 rounding moves a value by at most 2⁻⁹ of it; 2⁻⁸ leaves a factor 2 of margin.
    static let u = 0x1p-8

    /// max|a − b| / max|b|, in Float64.
    func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let difference = zip(a, b).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) }
        return difference / max(b.reduce(0.0) { max($0, abs(Double($1))) }, 1e-12)
    }

    /// What one pass gives: the MLP's output, the input gradient, and the gradients of the router,
    /// expert 0's three matrices and the shared expert's gate, with the experts each token chose.
    struct Pass { var out: [Float], dx: [Float], router: [Float], expert: [Float], shared: [Float], chosen: [Int] }

    /// One forward and backward on N rows (`phase` shifts the input, and with it the routing),
    /// into `saved` and `scratch` when given, else into fresh ones.
    func pass(_ model: LlamaModel<Float>, layer l: Int, bf16: Bool, N: Int, phase: Double = 0.2,
              saved given: MixtureOfExpertsActivations<Float>? = nil, scratch givenScratch: MixtureOfExpertsGradients<Float>? = nil) -> Pass {
        let spec = model.spec.mixtureOfExperts!, C = model.spec.hidden
        let moe = model.offsets.layers[l].moe!
        let x = (0..<N * C).map { Float(sin(Double($0) * 0.37 + phase)) }
        let dout = (0..<N * C).map { Float(cos(Double($0) * 0.11 + phase)) }
        var out = [Float](repeating: 0, count: N * C), dx = [Float](repeating: 0, count: N * C)
        model.gradients.zero()
        let saved = given ?? MixtureOfExpertsActivations(tokens: N, spec: spec, hidden: C)
        let scratch = givenScratch ?? MixtureOfExpertsGradients(tokens: N, spec: spec, hidden: C)
        mixtureOfExpertsForward(&out, x, parameters: model.parameters.pointer, offsets: moe, spec: spec, N: N, C: C, bf16: bf16, into: saved)
        mixtureOfExpertsBackward(&dx, gradients: model.gradients.pointer, dout, x, parameters: model.parameters.pointer,
                                 offsets: moe, spec: spec, saved: saved, scratch: scratch, N: N, C: C, bf16: bf16)
        let g = model.gradients.buffer, E = spec.experts, Ie = spec.expertIntermediate
        let e0 = moe.experts[0]
        let expert = Array(g[e0.gate..<(e0.gate + Ie * C)]) + Array(g[e0.up..<(e0.up + Ie * C)]) + Array(g[e0.down..<(e0.down + C * Ie)])
        let shared = moe.shared.map { Array(g[$0.gate..<($0.gate + spec.sharedIntermediate! * C)]) } ?? []
        return Pass(out: out, dx: dx, router: Array(g[moe.router..<(moe.router + E * C)]), expert: expert, shared: shared,
                    chosen: saved.selected)
    }

    func testBF16ExpertsTrackFloat32WithinBF16Units() throws {
        let folder = PyTorchParityTests.fixtures.appendingPathComponent("lladamoe")
        let model = try XCTUnwrap(ModelFolder.load(folder, as: Float.self).model as? LlamaModel<Float>)
        let spec = try XCTUnwrap(model.spec.mixtureOfExperts)
        let layer = try XCTUnwrap(spec.moeLayers.firstIndex(of: true))
        XCTAssertNotNil(spec.sharedIntermediate, "the fixture has a shared expert")
        let N = 24
        let plain = pass(model, layer: layer, bf16: false, N: N)
        XCTAssertGreaterThan(Set(plain.chosen).count, 2, "the tokens spread over the experts")
        XCTAssertTrue(plain.expert.contains { $0 != 0 }, "expert 0 takes tokens")
        let kernel = BFloat16Matmul.kernelName
        let bf16 = pass(model, layer: layer, bf16: true, N: N)
        XCTAssertEqual(bf16.chosen, plain.chosen, "\(kernel): the same experts (a routing flip would swamp the comparison)")
        // Forward: the router, gate/up and down products each round their two inputs, and the
        // gate and up outputs are rounded: 8 roundings on the longest path. Backward: the
        // input gradient passes down, SwiGLU and gate/up again (2 roundings each) on top.
        for (part, ours, theirs, units) in [("output", bf16.out, plain.out, 8.0), ("input gradient", bf16.dx, plain.dx, 16.0),
                                             ("router gradient", bf16.router, plain.router, 16.0),
                                             ("expert 0 gradients", bf16.expert, plain.expert, 16.0),
                                             ("shared expert gate gradient", bf16.shared, plain.shared, 16.0)] {
            let error = relativeError(ours, theirs)
            XCTAssertLessThan(error, units * Self.u, "\(kernel): \(part)")
            XCTAssertGreaterThan(error, 1e-4, "\(kernel): \(part) equals float32's: bf16 not applied")
            print("MoE bf16 against float32, \(part): \(error) (\(error / Self.u) u)")
        }
    }

    /// The activations and backward scratch are arenas kept across steps (no allocation per
    /// expert or per step): a pass into arenas that an earlier pass with another routing and more
    /// tokens filled gives the same bits as a pass into fresh ones, float32 and bf16 (nothing
    /// stale is read or added to: the expert rows move, and backward's scratch is added into).
    func testReusedArenasGiveTheSameBitsAsFreshOnes() throws {
        let folder = PyTorchParityTests.fixtures.appendingPathComponent("lladamoe")
        let model = try XCTUnwrap(ModelFolder.load(folder, as: Float.self).model as? LlamaModel<Float>)
        let spec = try XCTUnwrap(model.spec.mixtureOfExperts)
        let layer = try XCTUnwrap(spec.moeLayers.firstIndex(of: true))
        let C = model.spec.hidden
        for bf16 in [false, true] {
            let saved = MixtureOfExpertsActivations<Float>(tokens: 32, spec: spec, hidden: C)
            let scratch = MixtureOfExpertsGradients<Float>(tokens: 32, spec: spec, hidden: C)
            let first = pass(model, layer: layer, bf16: bf16, N: 32, phase: 1.3, saved: saved, scratch: scratch)
            let reused = pass(model, layer: layer, bf16: bf16, N: 24, saved: saved, scratch: scratch)
            let fresh = pass(model, layer: layer, bf16: bf16, N: 24)
            XCTAssertNotEqual(Array(first.chosen.prefix(24 * spec.topK)), fresh.chosen, "bf16 \(bf16): the earlier pass routed differently")
            XCTAssertEqual(reused.chosen, fresh.chosen, "bf16 \(bf16): routing")
            for (part, a, b) in [("output", reused.out, fresh.out), ("input gradient", reused.dx, fresh.dx),
                                 ("router gradient", reused.router, fresh.router), ("expert 0 gradients", reused.expert, fresh.expert),
                                 ("shared expert gate gradient", reused.shared, fresh.shared)] {
                XCTAssertEqual(a, b, "bf16 \(bf16): \(part) from reused arenas")
            }
        }
    }
}
