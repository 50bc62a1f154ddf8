import DLLMCompute
import DLLMModels
import DLLMSampling
import Foundation
import XCTest

/// Bad input gives a typed error that names the parameter.
final class ErrorTests: XCTestCase {
    let model = Fixtures.randomLlama(Double.self, maxPositions: 40)
    var sampler: MDLMSampler<Double> { try! MDLMSampler(model: model, maskID: 49, eosID: 0) }

    func expect(_ expected: SamplingError, mentions parameter: String, _ body: () throws -> Void,
                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? SamplingError, expected, file: file, line: line)
            XCTAssertTrue("\(error)".contains(parameter), "\(error) should name \(parameter)", file: file, line: line)
        }
    }

    func testScheduleErrors() {
        let p: [[Int32]] = [[1, 2, 3]]
        expect(.notPositive(parameter: "steps", value: 0), mentions: "steps") {
            _ = try sampler.generate(prompts: p, config: MDLMSamplerConfig(steps: 0, genLength: 8))
        }
        expect(.notPositive(parameter: "steps", value: -3), mentions: "steps") {
            _ = try sampler.generate(prompts: p, config: MDLMSamplerConfig(steps: -3, genLength: 8))
        }
        expect(.notPositive(parameter: "gen_length", value: 0), mentions: "gen_length") {
            _ = try sampler.generate(prompts: p, config: MDLMSamplerConfig(steps: 4, genLength: 0))
        }
        expect(.notPositive(parameter: "block_length", value: 0), mentions: "block_length") {
            _ = try sampler.generate(prompts: p, config: MDLMSamplerConfig(steps: 4, genLength: 8, blockLength: 0))
        }
        expect(.notDivisible(parameter: "gen_length", value: 10, divisor: "block_length", divisorValue: 4), mentions: "block_length") {
            _ = try sampler.generate(prompts: p, config: MDLMSamplerConfig(steps: 10, genLength: 10, blockLength: 4))
        }
        expect(.notDivisible(parameter: "steps", value: 3, divisor: "the number of blocks", divisorValue: 2), mentions: "steps") {
            _ = try sampler.generate(prompts: p, config: MDLMSamplerConfig(steps: 3, genLength: 8, blockLength: 4))
        }
        expect(.notDivisible(parameter: "steps", value: 4, divisor: "the number of blocks", divisorValue: 3), mentions: "steps") {
            _ = try sampler.infill([[1, 49, 49, 2, 3, 49, 4]], config: MDLMSamplerConfig(steps: 4, blockLength: 3))
        }
    }

    func testValueErrors() {
        let p: [[Int32]] = [[1, 2, 3]]
        expect(.invalidValue(parameter: "temperature", value: "-1.0", reason: "must be a finite number ≥ 0"), mentions: "temperature") {
            _ = try sampler.generate(prompts: p, config: MDLMSamplerConfig(steps: 8, genLength: 8, temperature: -1))
        }
        expect(.invalidValue(parameter: "threshold", value: "1.5", reason: "must be in (0, 1]"), mentions: "threshold") {
            _ = try sampler.generate(prompts: p, config: MDLMSamplerConfig(steps: 8, genLength: 8, threshold: 1.5))
        }
        expect(.invalidValue(parameter: "cfg_scale", value: "-0.5", reason: "must be a finite number ≥ 0"), mentions: "cfg_scale") {
            _ = try sampler.generate(prompts: p, config: MDLMSamplerConfig(steps: 8, genLength: 8, cfgScale: -0.5))
        }
        expect(.invalidValue(parameter: "suppress_tokens", value: "999", reason: "not a token id below 50"), mentions: "suppress_tokens") {
            _ = try sampler.generate(prompts: p, config: MDLMSamplerConfig(steps: 8, genLength: 8, suppressTokens: [999]))
        }
        XCTAssertThrowsError(try MDLMSampler(model: model, maskID: 50, eosID: nil)) {
            XCTAssertTrue("\($0)".contains("mask_token_id"))
        }
    }

    func testInputErrors() {
        expect(.promptTooLong(promptTokens: 35, genLength: 8, maxPositions: 40), mentions: "prompt") {
            _ = try sampler.generate(prompts: [[Int32](repeating: 1, count: 35)], config: MDLMSamplerConfig(steps: 8, genLength: 8))
        }
        XCTAssertTrue("\(SamplingError.promptTooLong(promptTokens: 35, genLength: 8, maxPositions: 40))".contains("gen_length"))
        XCTAssertThrowsError(try sampler.generate(prompts: [[1, 49, 2]], config: MDLMSamplerConfig(steps: 8, genLength: 8))) {
            XCTAssertTrue("\($0)".contains("prompt") && "\($0)".contains("infill"))
        }
        XCTAssertThrowsError(try sampler.generate(prompts: [], config: MDLMSamplerConfig(steps: 8, genLength: 8)))
        XCTAssertThrowsError(try sampler.infill([[1, 2, 3]], config: MDLMSamplerConfig(steps: 8))) {
            XCTAssertTrue("\($0)".contains("infill"))
        }
        let ar = ARSampler(model: model, eosID: nil)
        expect(.emptyInput(parameter: "prompt", reason: "an autoregressive model needs at least one prompt token"), mentions: "prompt") {
            _ = try ar.generate(prompts: [[]], config: ARSamplerConfig(maxNewTokens: 4))
        }
        expect(.invalidValue(parameter: "top_p", value: "0.0", reason: "must be in (0, 1]"), mentions: "top_p") {
            _ = try ar.generate(prompts: [[1]], config: ARSamplerConfig(maxNewTokens: 4, temperature: 1, topP: 0))
        }
        expect(.promptTooLong(promptTokens: 30, genLength: 20, maxPositions: 40), mentions: "prompt") {
            _ = try ar.generate(prompts: [[Int32](repeating: 1, count: 30)], config: ARSamplerConfig(maxNewTokens: 20))
        }
    }

    func testAModelWithoutAMaskTokenCannotDiffuse() throws {
        // GPT-2 fixture weights with the GPT-2 tokenizer fixture: no mask_token_id, no mask token.
        let folder = Fixtures.models.appendingPathComponent("gpt2").path
        let tokenizer = Fixtures.here.deletingLastPathComponent().appendingPathComponent("DLLMTokenizersTests/Fixtures/gpt2").path
        XCTAssertThrowsError(try TextGenerator(folder: folder, tokenizerPath: tokenizer, mode: .diffusion)) { error in
            XCTAssertEqual(error as? SamplingError, .noMaskToken(model: folder))
            XCTAssertTrue("\(error)".contains("mask_token"))
        }
        let auto = try TextGenerator(folder: folder, tokenizerPath: tokenizer)
        XCTAssertEqual(auto.mode, .ar)
        XCTAssertNil(auto.maskID)
    }
}
