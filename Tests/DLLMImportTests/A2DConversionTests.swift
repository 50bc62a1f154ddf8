import DLLMCheckpoint
import DLLMCompute
import DLLMImport
import DLLMModels
import DLLMSampling
import Foundation
import XCTest

/// `dllm convert a2d` on the tiny llama of Fixtures/generate_a2d_fixtures.py, against what
/// transformers loaded from the same conversion (LlamaForCausalLM, grown vocabulary, mask
/// token) and its logits with bidirectional attention.
final class A2DConversionTests: XCTestCase {
    private func converted(options: A2DConverter.Options = .init()) throws -> (URL, A2DConverter.Summary) {
        let out = try A2DFixtures.scratch(self).appendingPathComponent("a2d")
        let summary = try A2DConverter.convert(input: A2DFixtures.source.path, to: out, options: options)
        return (out, summary)
    }

    func testTransformersLoadedTheConversionAsLlama() throws {
        let reference = try A2DFixtures.reference()
        let loaded = try XCTUnwrap(reference["transformers_loaded"] as? [String: Any])
        XCTAssertEqual(loaded["class"] as? String, "LlamaForCausalLM")
        XCTAssertEqual(loaded["old_weights_equal"] as? Bool, true)
        let (out, summary) = try converted()
        // 320 tokens, no spare row: the mask token is id 320 and the table grows to 384.
        XCTAssertEqual(summary.oldVocabularyRows, 320)
        XCTAssertEqual(summary.newVocabularyRows, 384)
        XCTAssertEqual(summary.maskTokenID, 320)
        XCTAssertFalse(summary.maskTokenReused)
        XCTAssertEqual(summary.addedRows, .multivariateNormal)
        XCTAssertEqual(loaded["vocab_size"] as? Int, summary.newVocabularyRows)
        XCTAssertEqual(loaded["embedding_rows"] as? Int, summary.newVocabularyRows)
        XCTAssertEqual(loaded["lm_head_rows"] as? Int, summary.newVocabularyRows)
        XCTAssertEqual(loaded["mask_token_id"] as? Int, summary.maskTokenID)
        XCTAssertEqual(loaded["mask_token"] as? String, "<|mask|>")
        XCTAssertEqual(loaded["len_tokenizer"] as? Int, 321)
        // dLLM's registration (an LlamaConfig subclass under model_type a2d-llama) reads the folder.
        let registered = try XCTUnwrap(reference["dllm_registered_config"] as? [String: Any])
        XCTAssertEqual(registered["class"] as? String, "A2DLlamaConfig")
        XCTAssertEqual(registered["model_type"] as? String, summary.modelType)
        XCTAssertEqual(registered["mask_token_id"] as? Int, summary.maskTokenID)
        // transformers' own resize of the source gives the same row count.
        let resize = try XCTUnwrap(reference["transformers_resize"] as? [String: Any])
        XCTAssertEqual(resize["rows"] as? Int, summary.newVocabularyRows)

        let config = try A2DFixtures.json(out.appendingPathComponent("config.json"))
        XCTAssertEqual(config["model_type"] as? String, "a2d-llama")
        XCTAssertEqual(config["vocab_size"] as? Int, 384)
        XCTAssertEqual(config["mask_token_id"] as? Int, 320)
        XCTAssertNil(config["architectures"], "convert.py removes architectures")
        XCTAssertNil(config["auto_map"])
        let written = try XCTUnwrap(reference["written_config"] as? [String: Any])
        XCTAssertEqual(NSDictionary(dictionary: config), NSDictionary(dictionary: written))
        let source = try A2DFixtures.json(A2DFixtures.source.appendingPathComponent("config.json"))
        for (key, value) in source where !["model_type", "vocab_size", "architectures"].contains(key) {
            XCTAssertEqual(config[key] as? NSObject, value as? NSObject, "config key \(key) changed")
        }
        let generation = try A2DFixtures.json(out.appendingPathComponent("generation_config.json"))
        XCTAssertEqual(generation["mask_token_id"] as? Int, 320)
        XCTAssertEqual(generation["eos_token_id"] as? Int, 0, "the source's generation config is kept")
    }

    func testTokenizerFilesHoldTheMaskToken() throws {
        let reference = try A2DFixtures.reference()
        let (out, _) = try converted()
        let tokenizer = try A2DFixtures.json(out.appendingPathComponent("tokenizer.json"))
        let added = try XCTUnwrap(tokenizer["added_tokens"] as? [[String: Any]])
        let expected = try XCTUnwrap(reference["added_token"] as? [String: Any])
        XCTAssertEqual(added.count, 2)
        XCTAssertEqual(NSDictionary(dictionary: added[1]), NSDictionary(dictionary: expected))
        XCTAssertEqual(added[1]["special"] as? Bool, true)
        let tokenizerConfig = try A2DFixtures.json(out.appendingPathComponent("tokenizer_config.json"))
        XCTAssertEqual(tokenizerConfig["mask_token"] as? String, "<|mask|>")
        // Everything else in tokenizer.json is the source's.
        var source = try A2DFixtures.json(A2DFixtures.source.appendingPathComponent("tokenizer.json"))
        var copy = tokenizer
        source["added_tokens"] = nil
        copy["added_tokens"] = nil
        XCTAssertEqual(NSDictionary(dictionary: copy), NSDictionary(dictionary: source))
    }

    func testBidirectionalLogitsMatchTransformers() throws {
        let (out, _) = try converted()
        try assertBidirectionalLogitsMatch(out, base: "llama")
    }

    /// A Qwen2 source whose table already has a spare row (384 rows, 320 tokens): the mask token
    /// takes id 320, nothing grows, every tensor is the source's, and the logits match transformers'.
    func testQwen2WithASpareRowKeepsItsShape() throws {
        let out = try A2DFixtures.scratch(self).appendingPathComponent("a2d")
        let summary = try A2DConverter.convert(input: A2DFixtures.folder("qwen2").path, to: out)
        XCTAssertEqual(summary.modelType, "a2d-qwen2")
        XCTAssertEqual(summary.maskTokenID, 320)
        XCTAssertEqual(summary.oldVocabularyRows, 384)
        XCTAssertEqual(summary.newVocabularyRows, 384)
        XCTAssertNil(summary.addedRows)
        let reference = try A2DFixtures.reference("qwen2")
        let loaded = try XCTUnwrap(reference["transformers_loaded"] as? [String: Any])
        XCTAssertEqual(loaded["class"] as? String, "Qwen2ForCausalLM")
        XCTAssertEqual(loaded["tied"] as? Bool, true)
        XCTAssertEqual(loaded["vocab_size"] as? Int, 384)
        XCTAssertEqual(loaded["mask_token_id"] as? Int, 320)
        let config = try A2DFixtures.json(out.appendingPathComponent("config.json"))
        let written = try XCTUnwrap(reference["written_config"] as? [String: Any])
        XCTAssertEqual(NSDictionary(dictionary: config), NSDictionary(dictionary: written))
        let source = try SafeTensorsCheckpoint(directory: A2DFixtures.folder("qwen2"))
        let target = try SafeTensorsCheckpoint(directory: out)
        for name in target.tensorNames { XCTAssertEqual(try target.readFloats(name), try source.readFloats(name), name) }
        try assertBidirectionalLogitsMatch(out, base: "qwen2")
    }

    /// The converted folder's logits, through the inference and the training forward, against
    /// transformers' with a bidirectional mask (within 1e-4).
    private func assertBidirectionalLogitsMatch(_ out: URL, base: String) throws {
        let reference = try A2DFixtures.reference(base)
        let expected = try A2DFixtures.floats(reference, "bidirectional_logits")
        let ids = try XCTUnwrap(reference["ids"] as? [Int]).map(Int32.init)
        let B = try XCTUnwrap(reference["B"] as? Int), T = try XCTUnwrap(reference["T"] as? Int)
        let loaded = try ModelFolder.load(out, as: Float.self)
        guard let spec = loaded.model.architecture as? LlamaSpec else { return XCTFail("not a llama") }
        XCTAssertTrue(spec.bidirectional)
        XCTAssertEqual(spec.modelType, "a2d-\(base)")
        XCTAssertEqual(spec.maskTokenID, 320)
        XCTAssertEqual(reference["V"] as? Int, spec.vocab)

        let inference = inferenceModel(loaded.model).bidirectionalLogits(ids: ids, B: B, T: T)
        loaded.model.forward(TokenBatch(ids: ids, B: B, T: T), mask: AttentionMask(.bidirectional, B: B, T: T))
        let training = Array(UnsafeBufferPointer(start: loaded.model.logits, count: B * T * spec.vocab))
        for (name, logits) in [("inference", inference), ("training", training)] {
            XCTAssertEqual(logits.count, expected.count)
            let diff = zip(logits, expected).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(diff, 1e-4, "\(name) path: max|dllm − transformers|")
            print("a2d tiny \(base), \(name) path: max|dllm − transformers| = \(diff)")
        }
    }

    func testOldWeightsAreKeptBitForBit() throws {
        let (out, _) = try converted()
        let source = try SafeTensorsCheckpoint(directory: A2DFixtures.source)
        let target = try SafeTensorsCheckpoint(directory: out)
        XCTAssertEqual(Set(source.tensorNames), Set(target.tensorNames), "same tensor names")
        for name in source.tensorNames {
            let old = try source.readFloats(name), new = try target.readFloats(name)
            XCTAssertEqual(Array(new.prefix(old.count)), old, name)
        }
    }

    /// New rows ~ 𝒩(μ, 1e-9·Σ) with μ and Σ of the old rows, the embedding and the untied head
    /// each from their own: μ and Σ equal torch's, the rows' mean is near μ and their spread
    /// matches √(1e-9·Σᵢᵢ).
    func testNewRowsFollowTransformersMeanResizing() throws {
        let reference = try A2DFixtures.reference()
        let (out, _) = try converted()
        let source = try SafeTensorsCheckpoint(directory: A2DFixtures.source)
        let target = try SafeTensorsCheckpoint(directory: out)
        for (name, key) in [("model.embed_tokens.weight", "embedding"), ("lm_head.weight", "head")] {
            let old = try source.readFloats(name), new = try target.readFloats(name)
            let C = 32, oldRows = old.count / C, newRows = new.count / C
            XCTAssertEqual(newRows - oldRows, 64)
            let (mean, covariance) = old.withUnsafeBufferPointer {
                AddedRowsInitialization.meanAndCovariance(rows: $0.baseAddress!, count: oldRows, width: C)
            }
            let torchMean = try A2DFixtures.floats(reference, "\(key)_mean")
            let torchCovariance = try A2DFixtures.floats(reference, "\(key)_covariance")
            for c in 0 ..< C { XCTAssertEqual(mean[c], Double(torchMean[c]), accuracy: 1e-6, "\(key) μ[\(c)]") }
            for i in 0 ..< C * C { XCTAssertEqual(covariance[i], Double(torchCovariance[i]), accuracy: 1e-6, "\(key) Σ[\(i)]") }
            let added = Array(new[(oldRows * C)...])
            let n = Double(newRows - oldRows)
            for c in 0 ..< C {
                let column = stride(from: c, to: added.count, by: C).map { Double(added[$0]) }
                let sampleMean = column.reduce(0, +) / n
                let sampleStd = (column.map { ($0 - sampleMean) * ($0 - sampleMean) }.reduce(0, +) / (n - 1)).squareRoot()
                let sigma = (AddedRowsInitialization.epsilon * covariance[c * C + c]).squareRoot()
                XCTAssertEqual(sampleMean, mean[c], accuracy: 5 * sigma / n.squareRoot() + 1e-7, "\(key) mean of new rows, column \(c)")
                XCTAssertGreaterThan(sampleStd, 0.6 * sigma, "\(key) spread, column \(c)")
                XCTAssertLessThan(sampleStd, 1.4 * sigma, "\(key) spread, column \(c)")
            }
        }
    }

    func testRandomInitKeepsTheArchitectureOnly() throws {
        let (out, summary) = try converted(options: .init(randomInit: true, seed: 5))
        XCTAssertNil(summary.addedRows)
        XCTAssertEqual(summary.newVocabularyRows, 384)
        let source = try SafeTensorsCheckpoint(directory: A2DFixtures.source)
        let target = try SafeTensorsCheckpoint(directory: out)
        XCTAssertEqual(Set(source.tensorNames), Set(target.tensorNames))
        let loaded = try ModelFolder.load(out, as: Float.self)
        let expected = LlamaModel<Float>(spec: try XCTUnwrap(loaded.model.architecture as? LlamaSpec))
        Initialization.initialize(expected, seed: 5)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: loaded.model.parameters.pointer, count: loaded.model.parameterCount)),
                       Array(UnsafeBufferPointer(start: expected.parameters.pointer, count: expected.parameterCount)))
        let q = "model.layers.0.self_attn.q_proj.weight"
        XCTAssertNotEqual(try target.readFloats(q), try source.readFloats(q), "the weights are dropped")
    }

    /// `dllm generate` on the conversion: the diffusion sampler, with config.json's mask id.
    func testGeneratorSamplesTheConversionByDiffusion() throws {
        let (out, _) = try converted()
        let generator = try TextGenerator(folder: out.path)
        XCTAssertEqual(generator.mode, .diffusion)
        XCTAssertEqual(generator.maskID, 320)
        XCTAssertEqual(generator.modelType, "a2d-llama")
        let output = try generator.diffusionSampler().generate(
            prompts: [try generator.promptTokens("The quick", chat: false)],
            config: MDLMSamplerConfig(steps: 4, genLength: 4))
        XCTAssertEqual(output.answers[0].count, 4)
        XCTAssertFalse(output.answers[0].contains(320), "every mask is filled")
    }
}
