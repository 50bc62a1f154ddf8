import DLLMProcess
import Foundation
import XCTest

/// The `dllm` command line as a user runs it: tokenizer round trip, config errors,
/// and the exit status of bad input.
final class CommandLineTests: XCTestCase {
    func run(_ arguments: [String], input: String? = nil) throws -> (status: Int32, out: String, err: String) {
        let result = try ChildProcess.run([DistributedTrainingTests.dllm.path] + arguments, input: Data((input ?? "").utf8))
        return (result.status, result.output, result.errors)
    }

    func testTokenizerEncodeThenDecodeRoundTrips() throws {
        let model = DistributedTrainingTests.fixtures.appendingPathComponent("model").path
        let text = "To be, or not to be: that is the question."
        let encoded = try run(["tokenizer", "encode", "--tokenizer", model], input: text)
        XCTAssertEqual(encoded.status, 0, encoded.err)
        let ids = encoded.out.split(whereSeparator: { $0 == " " || $0 == "\n" })
        XCTAssertGreaterThan(ids.count, 5)
        XCTAssertTrue(ids.allSatisfy { Int($0) != nil })
        let decoded = try run(["tokenizer", "decode", "--tokenizer", model], input: encoded.out)
        XCTAssertEqual(decoded.status, 0, decoded.err)
        XCTAssertEqual(decoded.out.trimmingCharacters(in: .newlines), text)
    }

    func testDecodingAnIdTheTokenizerDoesNotKnowIsAnErrorNamingIt() throws {
        let model = DistributedTrainingTests.fixtures.appendingPathComponent("model").path
        let encoded = try run(["tokenizer", "encode", "--tokenizer", model], input: "To be")
        XCTAssertEqual(encoded.status, 0, encoded.err)
        let ids = encoded.out.trimmingCharacters(in: .whitespacesAndNewlines)
        // Past the vocabulary: refused, naming the id, its position and the vocabulary's size.
        let beyond = try run(["tokenizer", "decode", "--tokenizer", model], input: ids + " 999999")
        XCTAssertNotEqual(beyond.status, 0, "decoded silently: \(beyond.out)")
        XCTAssertTrue(beyond.err.contains("token id 999999 at position \(ids.split(separator: " ").count)"), beyond.err)
        XCTAssertTrue(beyond.err.contains("the vocabulary has"), beyond.err)
        XCTAssertEqual(beyond.out, "", "nothing printed")
        // Negative: refused as negative (it used to be "not a token id" at best).
        let negative = try run(["tokenizer", "decode", "--tokenizer", model], input: "-3 " + ids)
        XCTAssertNotEqual(negative.status, 0)
        XCTAssertTrue(negative.err.contains("token id -3 at position 0 is negative"), negative.err)
        // Beyond Int64: still an error, never a trap.
        let huge = try run(["tokenizer", "decode", "--tokenizer", model], input: "99999999999999999999999")
        XCTAssertNotEqual(huge.status, 0)
        XCTAssertTrue(huge.err.contains("is not a token id"), huge.err)
    }

    func testConfigErrorsNameTheKeyAndFailBeforeWork() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = dir.appendingPathComponent("bad.yaml")
        try "model_name_or_path: m\ndataset_args: d\noutput_dir: o\nlearnig_rate: 1e-3\n".write(to: yaml, atomically: true, encoding: .utf8)
        let r = try run(["train", yaml.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("bad.yaml:4"), r.err)
        XCTAssertTrue(r.err.contains("did you mean \"learning_rate\""), r.err)
    }

    /// Issue 17, defect 3: `--threads 0` and NaN sampling options used to crash `dllm generate`
    /// (invalid munmap, force-unwrap); each is now refused before the model loads, naming the option.
    func testGenerateRefusesBadNumericOptionsByName() throws {
        let model = DistributedTrainingTests.fixtures.appendingPathComponent("model").path
        for (option, value, rule) in [("threads", "0", "between 1 and 4096"), ("temperature", "nan", "finite"), ("cfg-scale", "nan", "finite"),
                                      ("threshold", "nan", "(0, 1]"), ("top-p", "nan", "(0, 1]"), ("top-p", "1.5", "(0, 1]"),
                                      ("top-k", "0", "at least 1"), ("steps", "-3", "at least 1"), ("gen-length", "0", "at least 1"),
                                      ("block-length", "-1", "at least 1"), ("temperature", "-1", "≥ 0")] {
            let r = try run(["generate", "--model", model, "--prompt", "hi", "--\(option)", value])
            XCTAssertEqual(r.status, 64, "--\(option) \(value): a usage error, not a crash: \(r.err)")
            XCTAssertTrue(r.err.contains("--\(option) \(value)") && r.err.contains(rule), "--\(option) \(value): \(r.err)")
        }
        let bench = try run(["bench", "ar", "--threads", "0"])
        XCTAssertEqual(bench.status, 64, bench.err)
        XCTAssertTrue(bench.err.contains("--threads 0"), bench.err)
    }

    /// A Dream folder (model_type Dream, random weights) trains with Dream's recipe (right-shifted
    /// logits, CART weights) and its checkpoint samples with Dream's sampler; the two samplers'
    /// options are refused when given to the other.
    func testDreamTrainsWithCARTAndSamplesWithItsSampler() throws {
        let fixtures = DistributedTrainingTests.fixtures
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-dream-\(UUID().uuidString)")
        let model = dir.appendingPathComponent("dream")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("model/tokenizer.json"), to: model.appendingPathComponent("tokenizer.json"))
        // Dream's recipe prepends BOS: the fixture tokenizer gets one.
        let tokenizerConfig = try String(contentsOf: fixtures.appendingPathComponent("model/tokenizer_config.json"), encoding: .utf8)
        try tokenizerConfig.replacingOccurrences(of: "\"eos_token\"", with: "\"bos_token\": \"<|endoftext|>\", \"eos_token\"")
            .write(to: model.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        try """
        {"model_type": "Dream", "vocab_size": 512, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64, "mask_token_id": 1, "eos_token_id": 0}
        """.write(to: model.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let yaml = dir.appendingPathComponent("train.yaml")
        try """
        model_name_or_path: \(model.path)
        dataset_args: \(fixtures.appendingPathComponent("data").path)
        max_length: 32
        max_steps: 3
        per_device_train_batch_size: 2
        right_shift_logits: true
        loss_weight_type: cart[geo_p:0.3]
        output_dir: \(dir.appendingPathComponent("out").path)
        """.write(to: yaml, atomically: true, encoding: .utf8)
        let trained = try run(["train", yaml.path])
        XCTAssertEqual(trained.status, 0, trained.err)
        let checkpoint = dir.appendingPathComponent("out/checkpoint-final").path
        let sampled = try run(["generate", "--model", checkpoint, "--sampler", "dream", "--alg", "topk_margin", "--prompt", "To be",
                               "--gen-length", "6", "--steps", "3", "--temperature", "0.5", "--top-k", "20", "--stats"])
        XCTAssertEqual(sampled.status, 0, sampled.err)
        XCTAssertTrue(sampled.err.contains("model evaluations 3"), sampled.err)
        for (arguments, named) in [(["--sampler", "dream", "--cfg-scale", "1"], "--cfg-scale"), (["--sampler", "dream", "--block-length", "2"], "--block-length"),
                                   (["--alg", "entropy"], "--alg"), (["--sampler", "dream", "--mode", "ar"], "--mode ar")] {
            let r = try run(["generate", "--model", checkpoint, "--prompt", "hi"] + arguments)
            XCTAssertEqual(r.status, 64, "\(arguments): \(r.err)")
            XCTAssertTrue(r.err.contains(named), "\(arguments): \(r.err)")
        }
    }

    /// Issue 17, defect 1: a tokenizer larger than the model's embedding, or a mask id beyond
    /// it, used to segfault (or silently write out of bounds) in the first step; now the run
    /// stops before any work with an error naming both sizes.
    func testTrainRefusesIdsBeyondTheEmbedding() throws {
        let fixtures = DistributedTrainingTests.fixtures
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-vocab-\(UUID().uuidString)")
        let model = dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent("model/\(file)"), to: model.appendingPathComponent(file))
        }
        let config = try String(contentsOf: fixtures.appendingPathComponent("model/config.json"), encoding: .utf8)
        try config.replacingOccurrences(of: "512", with: "300").write(to: model.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let yaml = dir.appendingPathComponent("train.yaml")
        try """
        model_name_or_path: \(model.path)
        dataset_args: \(fixtures.appendingPathComponent("data").path)
        max_length: 32
        max_steps: 2
        output_dir: \(dir.appendingPathComponent("out").path)
        """.write(to: yaml, atomically: true, encoding: .utf8)
        let small = try run(["train", yaml.path])
        XCTAssertNotEqual(small.status, 0)
        XCTAssertTrue(small.err.contains("512 tokens") && small.err.contains("300 rows"), small.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/checkpoint-final").path))

        try config.write(to: model.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        for mask in ["99999", "99999999"] {
            let r = try run(["train", yaml.path, "--mask_token_id", mask])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.err.contains("mask_token_id is \(mask)") && r.err.contains("512 rows"), r.err)
        }

        // Already tokenized data (load_preprocessed_data) holding an id the tokenizer never makes.
        let data = dir.appendingPathComponent("tokenized")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try String(repeating: #"{"input_ids": [1, 2, 3, 100000, 4], "labels": [1, 2, 3, 100000, 4]}"# + "\n", count: 4)
            .write(to: data.appendingPathComponent("train.jsonl"), atomically: true, encoding: .utf8)
        let tokenized = try run(["train", yaml.path, "--task", "sft", "--load_preprocessed_data", "true", "--dataset_args", data.path])
        XCTAssertNotEqual(tokenized.status, 0)
        XCTAssertTrue(tokenized.err.contains("token id in sequence 0 is 100000") && tokenized.err.contains("512 rows"), tokenized.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/checkpoint-final").path))
    }

    /// Issue 17, defect 10: a write the OS refuses used to end the run with a raw
    /// NSCocoaErrorDomain dump; the message now names the checkpoint, the path and the reason.
    /// (A file where the output folder should be; a read-only folder fails the same way,
    /// but this test may run as root, which ignores permissions.)
    func testRefusedCheckpointWriteSaysWhatAndWhere() throws {
        let fixtures = DistributedTrainingTests.fixtures
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-refused-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let blocked = dir.appendingPathComponent("out")
        try "not a folder".write(to: blocked, atomically: true, encoding: .utf8)
        let yaml = dir.appendingPathComponent("train.yaml")
        try """
        model_name_or_path: \(fixtures.appendingPathComponent("model").path)
        dataset_args: \(fixtures.appendingPathComponent("data").path)
        max_length: 32
        max_steps: 2
        save_steps: 1
        output_dir: \(blocked.path)
        """.write(to: yaml, atomically: true, encoding: .utf8)
        let r = try run(["train", yaml.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("cannot write checkpoint checkpoint-1: \(blocked.path): File exists (errno 17)"), r.err)
        XCTAssertFalse(r.err.contains("NSCocoaErrorDomain"), r.err)
    }
}
