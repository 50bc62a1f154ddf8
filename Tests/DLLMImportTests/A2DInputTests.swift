import DLLMCompute
import DLLMImport
import DLLMJSON
import DLLMModels
import DLLMSampling
import Foundation
import XCTest

/// What `dllm convert a2d` does with unusual input: unsupported types, an existing mask
/// token, tokenizers' id rule, and the row initialisation's corner cases.
final class A2DInputTests: XCTestCase {
    func testUnsupportedModelTypeIsNamed() throws {
        for type in ["gpt2", "llada", "a2d-llama"] {
            let folder = try A2DFixtures.sourceCopy(self)
            var config = try A2DFixtures.json(folder.appendingPathComponent("config.json"))
            config["model_type"] = type
            try A2DFixtures.writeJSON(config, to: folder.appendingPathComponent("config.json"))
            let out = try A2DFixtures.scratch(self).appendingPathComponent("out")
            XCTAssertThrowsError(try A2DConverter.convert(input: folder.path, to: out)) { error in
                XCTAssertEqual(error as? A2DConversionError,
                               .unsupportedModelType(type, path: folder.appendingPathComponent("config.json").path))
                XCTAssertTrue("\(error)".contains("\"\(type)\""), "\(error)")
                XCTAssertTrue("\(error)".contains("llama, qwen2, qwen3"), "\(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written")
        }
    }

    func testMissingTokenizerAndWeightsAreNamed() throws {
        let folder = try A2DFixtures.sourceCopy(self)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("tokenizer.json"))
        let out = try A2DFixtures.scratch(self).appendingPathComponent("out")
        XCTAssertThrowsError(try A2DConverter.convert(input: folder.path, to: out)) { error in
            XCTAssertTrue("\(error)".contains("tokenizer.json"), "\(error)")
        }
        let noWeights = try A2DFixtures.sourceCopy(self)
        try FileManager.default.removeItem(at: noWeights.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try A2DConverter.convert(input: noWeights.path, to: out)) { error in
            XCTAssertTrue("\(error)".contains("model.safetensors") && "\(error)".contains("--random-init"), "\(error)")
        }
        // --random-init needs no weights.
        let summary = try A2DConverter.convert(input: noWeights.path, to: out, options: .init(randomInit: true))
        XCTAssertEqual(summary.newVocabularyRows, 384)
    }

    /// A mask token the tokenizer already has keeps its id and needs no new row.
    func testExistingMaskTokenIsReused() throws {
        let out = try A2DFixtures.scratch(self).appendingPathComponent("out")
        let summary = try A2DConverter.convert(input: A2DFixtures.source.path, to: out, options: .init(maskToken: "<|endoftext|>"))
        XCTAssertTrue(summary.maskTokenReused)
        XCTAssertEqual(summary.maskTokenID, 0)
        XCTAssertEqual(summary.newVocabularyRows, 320)
        XCTAssertNil(summary.addedRows)
        let tokenizer = try A2DFixtures.json(out.appendingPathComponent("tokenizer.json"))
        XCTAssertEqual((tokenizer["added_tokens"] as? [Any])?.count, 1, "no second entry for the same token")
        let config = try A2DFixtures.json(out.appendingPathComponent("config.json"))
        XCTAssertEqual(config["mask_token_id"] as? Int, 0)
        XCTAssertEqual(config["vocab_size"] as? Int, 320)
    }

    /// tokenizers' `AddedVocabulary::add_tokens` ids: a vocabulary token keeps its id (and gets
    /// an added-token entry); a new token goes after the vocabulary, or after the largest added
    /// id when that is already past it.
    func testAddedTokenIDsFollowTokenizers() throws {
        func tokenizer(vocab: [String], added: [(Int, String)]) -> JSONValue {
            .object([
                ("added_tokens", .array(added.map { .object([("id", .integer(Int64($0.0))), ("content", .string($0.1))]) })),
                ("model", .object([("type", .string("BPE")),
                                   ("vocab", .object(vocab.enumerated().map { ($0.element, .integer(Int64($0.offset))) }))])),
            ])
        }
        var config: JSONValue = .object([("added_tokens_decoder", .object([]))])
        var json = tokenizer(vocab: ["a", "b", "c"], added: [(1, "b")])
        XCTAssertEqual(try MaskTokenAddition.add("<m>", tokenizerJSON: &json, tokenizerConfig: &config, path: "t"),
                       .init(id: 3, reused: false))
        XCTAssertEqual(config["mask_token"]?.stringValue, "<m>")
        XCTAssertEqual(config["added_tokens_decoder"]?["3"]?["content"]?.stringValue, "<m>", "transformers 4's map gets the entry")
        json = tokenizer(vocab: ["a", "b", "c"], added: [(7, "<x>")])
        XCTAssertEqual(try MaskTokenAddition.add("<m>", tokenizerJSON: &json, tokenizerConfig: &config, path: "t"),
                       .init(id: 8, reused: false))
        json = tokenizer(vocab: ["a", "b", "c"], added: [])
        XCTAssertEqual(try MaskTokenAddition.add("c", tokenizerJSON: &json, tokenizerConfig: &config, path: "t"),
                       .init(id: 2, reused: true))
        XCTAssertEqual(json["added_tokens"]?.arrayValue?.first?["special"]?.boolValue, true)
        XCTAssertThrowsError(try MaskTokenAddition.add("", tokenizerJSON: &json, tokenizerConfig: &config, path: "t"))
        var broken: JSONValue = .object([("model", .object([("vocab", .string("x"))]))])
        XCTAssertThrowsError(try MaskTokenAddition.add("<m>", tokenizerJSON: &broken, tokenizerConfig: &config, path: "tok.json")) {
            XCTAssertEqual($0 as? A2DConversionError, .malformedFile(path: "tok.json", key: "model.vocab",
                                                                       reason: "missing, or neither an object nor an array"))
        }
    }

    /// A tokenizer with ids past the model's rows does not belong to it.
    func testTokenizerLargerThanTheModelIsRefused() throws {
        let folder = try A2DFixtures.sourceCopy(self)
        let url = folder.appendingPathComponent("tokenizer.json")
        var tokenizer = try A2DFixtures.json(url)
        var added = try XCTUnwrap(tokenizer["added_tokens"] as? [[String: Any]])
        added.append(["id": 400, "content": "<|extra|>", "special": true, "single_word": false, "lstrip": false,
                      "rstrip": false, "normalized": false])
        tokenizer["added_tokens"] = added
        try A2DFixtures.writeJSON(tokenizer, to: url)
        let out = try A2DFixtures.scratch(self).appendingPathComponent("out")
        XCTAssertThrowsError(try A2DConverter.convert(input: folder.path, to: out)) { error in
            XCTAssertTrue("\(error)".contains("id 401") && "\(error)".contains("320 embedding rows"), "\(error)")
        }
    }

    /// The registry reads a2d-* as its base type's shape with bidirectional attention.
    func testRegistryReadsA2DTypesAsTheirBaseWithBidirectionalAttention() throws {
        for (type, qkvBias, qkNorm) in [("a2d-llama", false, false), ("a2d-qwen2", true, false), ("a2d-qwen3", false, true)] {
            let json = #"{"model_type": "\#(type)", "hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "#
                + #""intermediate_size": 32, "vocab_size": 128, "mask_token_id": 127}"#
            guard let spec = try ModelRegistry.architecture(configJSON: Data(json.utf8), path: "c.json") as? LlamaSpec else {
                return XCTFail(type)
            }
            XCTAssertTrue(spec.bidirectional, type)
            XCTAssertEqual(spec.qkvBias, qkvBias, type)
            XCTAssertEqual(spec.qkNorm, qkNorm, type)
            XCTAssertEqual(spec.headDim, type == "a2d-qwen3" ? 128 : 16, "Qwen3's head_dim default")
            XCTAssertEqual(spec.maskTokenID, 127)
            let base = String(type.dropFirst(4))
            guard let causal = try ModelRegistry.architecture(
                configJSON: Data(json.replacingOccurrences(of: type, with: base).utf8), path: "c.json") as? LlamaSpec else { return XCTFail(base) }
            XCTAssertFalse(causal.bidirectional, base)
        }
    }

    func testPaddedRowCount() {
        XCTAssertEqual(AddedRowsInitialization.paddedRowCount(49153), 49216)
        XCTAssertEqual(AddedRowsInitialization.paddedRowCount(49152), 49152)
        XCTAssertEqual(AddedRowsInitialization.paddedRowCount(1), 64)
    }

    func testCholeskyFactorsAndRejects() throws {
        let a: [Double] = [4, 2, 0.4, 2, 5, 1, 0.4, 1, 3]
        let l = try XCTUnwrap(AddedRowsInitialization.cholesky(a, n: 3))
        for i in 0 ..< 3 {
            for j in 0 ..< 3 {
                let product = (0 ..< 3).map { l[i * 3 + $0] * l[j * 3 + $0] }.reduce(0, +)
                XCTAssertEqual(product, a[i * 3 + j], accuracy: 1e-12)
            }
            for j in (i + 1) ..< 3 { XCTAssertEqual(l[i * 3 + j], 0) }
        }
        XCTAssertNil(AddedRowsInitialization.cholesky([1, 1, 1, 1], n: 2), "singular")
        XCTAssertNil(AddedRowsInitialization.cholesky([1, 2, 2, 1], n: 2), "indefinite")
    }

    /// Fewer old rows than the width: Σ is singular, so every new row is μ (transformers' fallback).
    func testSingularCovarianceFallsBackToTheMean() {
        let C = 4
        var table: [Float] = [1, 2, 3, 4, 3, 2, 1, 0] + [Float](repeating: .nan, count: 3 * C)
        var generator = SeededGenerator(seed: 1)
        let method = table.withUnsafeMutableBufferPointer {
            AddedRowsInitialization.fill($0.baseAddress!, oldRows: 2, newRows: 5, width: C, generator: &generator)
        }
        XCTAssertEqual(method, .mean)
        for r in 2 ..< 5 { XCTAssertEqual(Array(table[(r * C) ..< (r * C + C)]), [2, 2, 2, 2]) }
    }

    /// A bidirectional model without any mask token cannot be sampled.
    func testBidirectionalModelWithoutMaskTokenIsRefused() throws {
        let folder = try A2DFixtures.sourceCopy(self)
        var config = try A2DFixtures.json(folder.appendingPathComponent("config.json"))
        config["model_type"] = "a2d-llama"
        try A2DFixtures.writeJSON(config, to: folder.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try TextGenerator(folder: folder.path)) { error in
            XCTAssertEqual(error as? SamplingError, .noMaskToken(model: folder.path))
        }
        XCTAssertEqual(try TextGenerator(folder: A2DFixtures.source.path).mode, .ar, "the causal source samples autoregressively")
    }
}
