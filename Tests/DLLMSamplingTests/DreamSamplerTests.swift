import DLLMCompute
import DLLMModels
@testable import DLLMSampling
import Foundation
import XCTest

/// Dream's sampler against the PyTorch transcription of Dream's `generation_utils.py` `_sample`
/// (Tests/Fixtures/generate_dream.py) on the tiny Dream checkpoint, token for token under the shared
/// counter-based noise: every `alg`, with temperature, top-p, top-k and alg_temp.
final class DreamSamplerTests: XCTestCase {
    static let cases = Fixtures.here.appendingPathComponent("Fixtures/dream_sampler.json")

    func config(_ json: [String: Any]) -> DreamSamplerConfig {
        DreamSamplerConfig(steps: json["steps"] as! Int, maxNewTokens: json["max_new_tokens"] as! Int, eps: json["eps"] as! Double,
                           alg: DreamAlgorithm(rawValue: json["alg"] as! String)!, algTemp: json["alg_temp"] as? Double,
                           temperature: json["temperature"] as! Double, topP: json["top_p"] as? Double, topK: json["top_k"] as? Int)
    }

    func testEveryAlgorithmMatchesTheReferenceTokenForToken() throws {
        let json = try Fixtures.referenceJSON(Self.cases)
        let model = try Fixtures.model("dream", as: Float.self)
        let sampler = try DreamSampler(model: model, maskID: 63)
        let cases = json["cases"] as! [[String: Any]]
        XCTAssertEqual(Set(cases.map { $0["alg"] as! String }), Set(DreamAlgorithm.allCases.map(\.rawValue)))
        for c in cases {
            let prompts = (c["prompts"] as! [[Int]]).map { $0.map(Int32.init) }
            let expected = (c["sequences"] as! [[Int]]).map { $0.map(Int32.init) }
            let out = try sampler.generate(prompts: prompts, config: config(c), noise: CounterNoise(seed: UInt64(c["seed"] as! Int)))
            XCTAssertEqual(out.sequences, expected, "\(c["alg"]!) temperature \(c["temperature"]!) top_p \(c["top_p"]!) top_k \(c["top_k"]!) alg_temp \(c["alg_temp"]!)")
            XCTAssertEqual(out.stats.modelEvaluations, prompts.count * (c["steps"] as! Int))
        }
    }

    func testTimestepsAreTorchLinspace() {
        // torch.linspace(1, 1e-3, 11) in float32, as bit patterns (one from each half of torch's kernel).
        let ts = DreamSamplerConfig(steps: 10).timesteps
        XCTAssertEqual(ts.count, 11)
        XCTAssertEqual(ts.first, 1)
        XCTAssertEqual(ts.last, Float(1e-3))
        XCTAssertEqual(ts[1].bitPattern, 0x3F66_6CF4)
        XCTAssertEqual(ts[5].bitPattern, 0x3F00_20C5)
        XCTAssertEqual(ts[7].bitPattern, 0x3E99_F55A)
        XCTAssertEqual(ts[9].bitPattern, 0x3DCE_A4A9)
    }

    func testBadParametersAreRefusedByName() throws {
        let sampler = try DreamSampler(model: try Fixtures.model("dream", as: Float.self), maskID: 63)
        for (config, name) in [(DreamSamplerConfig(steps: 0), "steps"), (DreamSamplerConfig(topP: 0), "top_p"),
                               (DreamSamplerConfig(topK: 0), "top_k"), (DreamSamplerConfig(algTemp: -1), "alg_temp"),
                               (DreamSamplerConfig(eps: 1), "eps"), (DreamSamplerConfig(maxNewTokens: 100), "gen_length")] {
            XCTAssertThrowsError(try sampler.generate(prompts: [[1, 2]], config: config)) { XCTAssertTrue("\($0)".contains(name), "\($0)") }
        }
        XCTAssertThrowsError(try DreamSampler(model: try Fixtures.model("dream", as: Float.self), maskID: 64))
    }
}
