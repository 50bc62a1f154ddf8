import DLLMConfig
import DLLMTraining
import Foundation
import XCTest

/// `load_in_4bit` and `base_quantization` ask for a frozen quantised base: refused without LoRA
/// (a quantised base cannot be trained), and refused while the trainer does not run LoRA over one.
final class QuantizedBaseConfigTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-qbase-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    let valid = """
    model_name_or_path: models/tiny-llada
    dataset_args: data/shakespeare.jsonl[train:1_000,test:100]
    output_dir: runs/tiny
    max_steps: 200
    """

    func message(_ text: String, overrides: [String] = []) throws -> String? {
        let path = directory.appendingPathComponent("config.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try TrainingConfig.load(path: path, overrides: overrides)
            return nil
        } catch {
            return "\(error)"
        }
    }

    func testQuantizedBaseWithoutLoRAIsRefusedNamingKeyAndLine() throws {
        for (key, value) in [("load_in_4bit", "true"), ("base_quantization", "nf4"), ("base_quantization", "q4_k"),
                             ("base_quantization", "q8_0"), ("base_quantization", "gguf")] {
            let error = try XCTUnwrap(try message(valid + "\n\(key): \(value)\n"), "\(key): \(value) was accepted")
            for part in [key, ":5", "without lora: true", "cannot be trained"] {
                XCTAssertTrue(error.contains(part), "\"\(error)\" lacks \"\(part)\"")
            }
            let overridden = try XCTUnwrap(try message(valid, overrides: ["--\(key)", value]))
            XCTAssertTrue(overridden.contains("without lora: true"), overridden)
        }
    }

    func testQuantizedBaseWithLoRAIsStillRefusedUntilWired() throws {
        for (key, value) in [("load_in_4bit", "true"), ("base_quantization", "q4_k")] {
            let error = try XCTUnwrap(try message(valid + "\nlora: true\n\(key): \(value)\n"))
            XCTAssertFalse(error.contains("without lora: true"), error)
            XCTAssertTrue(error.contains("not supported"), error)
        }
    }

    func testFloatBaseValuesAreAccepted() throws {
        XCTAssertNil(try message(valid + "\nload_in_4bit: false\nbase_quantization: none\n"))
    }
}
