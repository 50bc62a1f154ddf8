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
}
