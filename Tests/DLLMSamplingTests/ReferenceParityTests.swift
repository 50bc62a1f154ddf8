import DLLMCompute
import DLLMModels
import DLLMSampling
import Foundation
import XCTest

/// Token-for-token parity with the reference sampler of Tests/Fixtures/generate_sampler_fixtures.py
/// (LLaDA's `generate()` with dLLM's batching/infilling and Fast-dLLM's caches and threshold, in
/// PyTorch on the `llada` fixture weights), and with `transformers`' greedy `generate` and logits
/// warpers for autoregressive checkpoints.
final class ReferenceParityTests: XCTestCase {
    func testCounterNoiseMatchesTheReferenceScript() throws {
        let checks = try Fixtures.referenceJSON()["noise_check"] as! [[String: Any]]
        XCTAssertFalse(checks.isEmpty)
        for c in checks {
            let noise = CounterNoise(seed: UInt64(c["seed"] as! String)!)
            let step = c["step"] as! Int, sample = UInt64(c["sample"] as! Int), position = c["position"] as! Int
            let v = c["v"] as! Int
            let expected = Double(c["u"] as! String)!
            let stream = UInt64(c["stream"] as! Int)
            let hash = CounterNoise.mix(noise.key(stream: stream, step: step, sample: sample, position: position) ^ UInt64(v))
            XCTAssertEqual(String(hash), c["hash"] as! String, "noise hash \(c)")
            let got: Double
            switch stream {
            case 1:
                var u = [Double](repeating: 0, count: v + 1)
                u.withUnsafeMutableBufferPointer { noise.gumbelUniforms(step: step, sample: sample, position: position, into: $0) }
                got = u[v]
            case 2: got = noise.remaskUniform(step: step, sample: sample, position: position)
            default: got = noise.tokenUniform(step: step, sample: sample)
            }
            XCTAssertEqual(got, expected, "noise \(c)")
        }
    }

    func runMDLMCases<S: ComputeScalar>(_: S.Type, onlyFloat32Safe: Bool, reference: URL = Fixtures.reference) throws -> Int {
        let json = try Fixtures.referenceJSON(reference)
        let model = try Fixtures.model("llada", as: S.self)
        let sampler = try MDLMSampler(model: model, maskID: Int32(json["mask_token_id"] as! Int), eosID: Int32(json["eos_token_id"] as! Int))
        var ran = 0
        for c in json["mdlm_cases"] as! [[String: Any]] {
            if onlyFloat32Safe && !(c["float32_agrees"] as! Bool) { continue }
            let name = c["name"] as! String
            let cfgJSON = c["config"] as! [String: Any]
            let config = mdlmConfig(cfgJSON)
            let inputs = int32Rows(c["inputs"])
            let keys = (c["sample_keys"] as! [Int]).map(UInt64.init)
            let noise = CounterNoise(seed: UInt64(cfgJSON["seed"] as! Int))
            var commits: [[Int]] = []
            let observer: (MDLMStepEvent) -> Void = { commits.append($0.committed.map(\.count)) }
            let out = (c["mode"] as! String) == "generate"
                ? try sampler.generate(prompts: inputs, config: config, noise: noise, sampleKeys: keys, observer: observer)
                : try sampler.infill(inputs, config: config, noise: noise, sampleKeys: keys, observer: observer)
            XCTAssertEqual(out.sequences, int32Rows(c["expected"]), "\(name) (\(S.self)): tokens")
            XCTAssertEqual(out.stats.modelEvaluations, c["nfe"] as! Int, "\(name) (\(S.self)): model evaluations")
            XCTAssertEqual(commits, c["commits_per_step"] as! [[Int]], "\(name) (\(S.self)): tokens committed per step")
            ran += 1
        }
        return ran
    }

    func testMDLMSamplerMatchesReferenceInDouble() throws {
        XCTAssertGreaterThanOrEqual(try runMDLMCases(Double.self, onlyFloat32Safe: false), 20)
    }

    func testMDLMSamplerMatchesReferenceInFloat() throws {
        XCTAssertGreaterThan(try runMDLMCases(Float.self, onlyFloat32Safe: true), 0)
    }

    /// `right_shift_logits`: the committed token at position i read from logit i − 1 (dLLM's sampler).
    func testShiftedMDLMSamplerMatchesReference() throws {
        XCTAssertEqual(try runMDLMCases(Double.self, onlyFloat32Safe: false, reference: Fixtures.shiftedReference), 5)
        XCTAssertGreaterThan(try runMDLMCases(Float.self, onlyFloat32Safe: true, reference: Fixtures.shiftedReference), 0)
    }

    func testShiftRefusesCachesEmptyPromptsAndAMaskAtPositionZero() throws {
        let model = Fixtures.randomLlama(Float.self)
        let sampler = try MDLMSampler(model: inferenceModel(model), maskID: 49, eosID: 0)
        var config = MDLMSamplerConfig(steps: 4, genLength: 4, rightShiftLogits: true)
        XCTAssertThrowsError(try sampler.generate(prompts: [[]], config: config))
        XCTAssertThrowsError(try sampler.infill([[49, 3, 49]], config: config))
        XCTAssertNoThrow(try sampler.infill([[3, 49, 49]], config: config))
        config.cache = .prefix
        XCTAssertThrowsError(try sampler.generate(prompts: [[3]], config: config)) { error in
            XCTAssertTrue("\(error)".contains("right_shift_logits"), "\(error)")
        }
    }

    func runARCases<S: ComputeScalar>(_: S.Type) throws {
        let json = try Fixtures.referenceJSON()
        for c in json["ar_cases"] as! [[String: Any]] {
            let name = c["name"] as! String
            let cfg = c["config"] as! [String: Any]
            let model = try Fixtures.model(c["model"] as! String, as: S.self)
            let config = ARSamplerConfig(maxNewTokens: cfg["max_new_tokens"] as! Int, temperature: (cfg["temperature"] as! NSNumber).doubleValue,
                                         topK: cfg["top_k"] as? Int, topP: (cfg["top_p"] as? NSNumber)?.doubleValue, stopAtEOS: false)
            let prompts = int32Rows(c["inputs"])
            for useCache in [true, false] {
                var cc = config
                cc.useCache = useCache
                let out = try ARSampler(model: model, eosID: nil).generate(prompts: prompts, config: cc,
                                                                           noise: CounterNoise(seed: UInt64(cfg["seed"] as! Int)))
                XCTAssertEqual(out.sequences, int32Rows(c["expected"]), "\(name) (\(S.self), cache \(useCache))")
            }
        }
    }

    func testARSamplerMatchesTransformersInDouble() throws { try runARCases(Double.self) }
    func testARSamplerMatchesTransformersInFloat() throws { try runARCases(Float.self) }
}
