import DLLMCompute
import DLLMModels
@testable import DLLMSampling
import Foundation
import XCTest

/// The τ-leaping step against a PyTorch transcription of dLLM's `tau_leap_step` under recorded
/// draws (Tests/Fixtures/generate_editflow.py), on the tiny editflow-llama model.
final class EditFlowSamplerTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/editflow_sampler.json")
    static let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DLLMModelsTests/Fixtures/editflow_llama")

    func loadModel() throws -> any EditFlowLanguageModel<Float> {
        let model = try ModelFolder.load(Self.model, as: Float.self).model
        return try XCTUnwrap(model as? any EditFlowLanguageModel<Float>)
    }

    func testTauLeapStepsGiveDLLMsTokens() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture)) as! [String: Any]
        let steps = json["steps"] as! [[String: Any]]
        XCTAssertEqual(steps.count, 4)
        let model = try loadModel()
        let floats = { (key: String, s: [String: Any]) in (s[key] as! [Double]).map(Float.init) }
        var fired = (deleted: 0, substituted: 0, inserted: 0)
        for (n, s) in steps.enumerated() {
            let x = (s["input"] as! [Int]).map(Int32.init)
            let out = model.editFlowForward(TokenBatch(ids: x, B: 1, T: x.count), mask: AttentionMask(.bidirectional, B: 1, T: x.count))
            let V = model.vocabularySize
            let (next, edited) = EditFlowSampler.step(
                x, outputs: out, promptLength: json["prompt_len"] as! Int, t: s["t"] as! Double, tau: json["tau"] as! Double,
                editPrompt: false, draws: EditFlowStepDraws(fire: floats("u_comb", s), delete: floats("u_del", s), insert: floats("u_ins", s))
            ) { isSubstitution, row in
                Int32(gumbelArgmax(UnsafePointer((isSubstitution ? out.substitutionLogits : out.insertionLogits) + row * V),
                                   V: V, temperature: 0, noise: nil))
            }
            XCTAssertEqual(next, (s["output"] as! [Int]).map(Int32.init), "step \(n) at t = \(s["t"]!)")
            XCTAssertTrue(edited)
            XCTAssertEqual(Array(next.prefix(4)), Array(x.prefix(4)), "the prompt is protected")
            fired.deleted += (s["deleted"] as! [Bool]).filter { $0 }.count
            fired.substituted += (s["substituted"] as! [Bool]).filter { $0 }.count
            fired.inserted += (s["inserted"] as! [Bool]).filter { $0 }.count
        }
        XCTAssertGreaterThan(fired.deleted, 0)
        XCTAssertGreaterThan(fired.substituted, 0)
        XCTAssertGreaterThan(fired.inserted, 0)
    }

    /// The whole loop: deterministic for a seed, the prompt kept, at most ⌈1/τ⌉ steps.
    func testSampleKeepsThePromptAndIsReproducible() throws {
        let model = try loadModel()
        let config = EditFlowSamplerConfig(tau: 0.05, maskLength: 6)
        var lengths: [Int] = []
        let a = try EditFlowSampler.sample(model: model, prompt: [5, 6, 7], bosTokenID: 1, maskTokenID: 39, config: config,
                                           noise: CounterNoise(seed: 3)) { _, tokens in lengths.append(tokens.count) }
        let b = try EditFlowSampler.sample(model: model, prompt: [1, 5, 6, 7], bosTokenID: 1, maskTokenID: 39, config: config,
                                           noise: CounterNoise(seed: 3))
        XCTAssertEqual(a, b, "BOS is prepended once; the same seed gives the same text")
        XCTAssertEqual(Array(a.prefix(4)), [1, 5, 6, 7])
        XCTAssertLessThanOrEqual(lengths.count, 20)
        XCTAssertGreaterThan(Set(lengths).count, 1, "the canvas changes length")
        XCTAssertThrowsError(try EditFlowSampler.sample(model: model, prompt: [5], bosTokenID: 1, maskTokenID: 39,
                                                        config: EditFlowSamplerConfig(tau: 0), noise: CounterNoise(seed: 1)))
    }
}
