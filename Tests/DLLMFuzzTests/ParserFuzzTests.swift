import DLLMCheckpoint
import DLLMGGUF
import DLLMJSON
import DLLMTelemetry
import Foundation
import XCTest

/// Issue 17: a bounded random-mutation fuzz of the parsers of untrusted input, run in CI
/// for a fixed count. Every mutated input must parse or throw the parser's own typed error;
/// a trap, an out-of-bounds read or another error type fails the run (a trap ends the test
/// process, which fails the suite). `DLLM_FUZZ_RUNS` raises the count for a longer local run.
/// Corpus sizes and runs per second are in docs/benchmarks.md ("Parser fuzzing").
final class ParserFuzzTests: XCTestCase {
    static let runs = ProcessInfo.processInfo.environment["DLLM_FUZZ_RUNS"].flatMap(Int.init) ?? 3_000

    /// Runs `body` on `runs` mutations of the seeds; returns how many inputs were accepted.
    func fuzz(_ seeds: [[UInt8]], seed: UInt64, _ body: ([UInt8]) throws -> Void,
              isExpected: (Error) -> Bool) -> (accepted: Int, perSecond: Double) {
        var mutator = ByteMutator(seed: seed)
        var accepted = 0
        let start = Date()
        for run in 0..<Self.runs {
            let input = mutator.mutate(seeds[run % seeds.count])
            do {
                try body(input)
                accepted += 1
            } catch {
                if !isExpected(error) {
                    XCTFail("run \(run) (seed \(seed)): unexpected error type \(type(of: error)): \(error)")
                    break
                }
            }
        }
        return (accepted, Double(Self.runs) / max(Date().timeIntervalSince(start), 1e-9))
    }

    func testJSONParserSurvivesMutatedDocuments() throws {
        let seeds = try [("DLLMTokenizersTests", "decode-cases.json"), ("DLLMCheckpointTests", "python_fixtures.json"),
                         ("DLLMGGUFTests", "metadata_expected.json")].map { try ByteMutator.fixture($0.0, $0.1) }
            + [Array(#"{"a": [1, 2.5e300, -0, "\ud83d\ude00", {"b": null, "c": [true, false]}], "d": "\u0000"}"#.utf8),
               Array(String(repeating: "[", count: 600).utf8)]
        let result = fuzz(seeds, seed: 1, { bytes in
            let value = try JSONParser.parse(bytes)
            // A document that parses must also write and parse back to the same value.
            XCTAssertEqual(try JSONParser.parse(JSONWriter.string(value)), value)
        }, isExpected: { $0 is JSONError })
        XCTAssertGreaterThan(result.accepted, 0, "some mutations stay valid JSON")
        print("fuzz JSON: \(Self.runs) runs over \(seeds.count) seeds, \(result.accepted) accepted, \(Int(result.perSecond)) runs/s")
    }

    func testGGUFReaderSurvivesMutatedFiles() throws {
        let names = ["metadata.gguf", "version2.gguf", "quant_Q4_0.gguf", "quant_Q4_1.gguf", "quant_Q8_0.gguf", "quant_Q4_K.gguf",
                     "quant_Q5_K.gguf", "quant_Q6_K.gguf", "quant_F16.gguf", "quant_BF16.gguf"]
        let seeds = try names.map { try ByteMutator.fixture("DLLMGGUFTests", $0) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-fuzz-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = fuzz(seeds, seed: 2, { bytes in
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let file = try GGUFFile(path: path)
            for tensor in file.tensors {
                // Offsets were checked against the file size at open: reading and dequantising
                // every tensor must stay inside the mapping.
                XCTAssertLessThanOrEqual(tensor.fileOffset + file.data(of: tensor).count, file.fileSize)
                _ = try file.dequantize(tensor)
            }
        }, isExpected: { $0 is GGUFError })
        XCTAssertGreaterThan(result.accepted, 0, "some mutations keep a readable file")
        print("fuzz GGUF: \(Self.runs) runs over \(seeds.count) seeds, \(result.accepted) accepted, \(Int(result.perSecond)) runs/s")
    }

    func testSafeTensorsReaderSurvivesMutatedFiles() throws {
        let seeds = try ["python_mixed.safetensors", "python_rounding.safetensors"].map { try ByteMutator.fixture("DLLMCheckpointTests", $0) }
        let result = fuzz(seeds, seed: 3, { bytes in
            let file = try SafeTensorsFile(data: Data(bytes), origin: "fuzz")
            for name in file.tensorNames {
                let count = file.info(name).map { $0.shape.reduce(1, *) } ?? 0
                var out = [Double](repeating: 0, count: count)
                try out.withUnsafeMutableBufferPointer { try file.read(name, into: $0) }
            }
        }, isExpected: { $0 is SafeTensorsError })
        XCTAssertGreaterThan(result.accepted, 0, "some mutations keep a readable file")
        print("fuzz safetensors: \(Self.runs) runs over \(seeds.count) seeds, \(result.accepted) accepted, \(Int(result.perSecond)) runs/s")
    }
    /// The collector's decoder of untrusted messages (`EventValidator`, on the PULL socket),
    /// with a token required: every mutated event is accepted or refused with a reason, and
    /// an accepted one's stored line is one line, lacks the token, and decodes again to the
    /// same event.
    func testTelemetryValidatorSurvivesMutatedEvents() throws {
        var encoder = EventEncoder(source: EventSource(runID: "fuzz-run", rank: 3, host: "node-1", token: "secret"))
        let events: [TelemetryEvent] = [
            .start(RunStart(outputDir: "/tmp/out", worldSize: 4, totalSteps: 100, config: Data(#"{"max_steps":100,"nested":{"a":[1,2]}}"#.utf8))),
            .step(StepMetrics(step: 7, epoch: 0.5, loss: 2.25, learningRate: 3e-4, gradNorm: 1.5)),
            .checkpoint(step: 7, path: "/tmp/out/checkpoint-7"), .eval(step: 7, loss: 2.5), .warning("a \"quoted\" é line"),
            .error("failed"), .exit(.ok, step: 7), .heartbeat(step: 7),
        ]
        // The start event carries this process's pid: fixed, so the corpus (and each run's mutation) is the same every time.
        let seeds = events.enumerated().map { encoder.encode($0.element, seq: $0.offset, time: 1.7e9 + Double($0.offset)) }
            .map { Array(String(decoding: $0, as: UTF8.self).replacing(/"pid":[0-9]+/, with: #""pid":4242"#).utf8) }
        var validator = EventValidator(token: "secret")
        var stored = EventValidator(token: "secret"), open = EventValidator()
        struct Refused: Error {}
        let result = fuzz(seeds, seed: 4, { bytes in
            guard case .success(let accepted) = bytes.withUnsafeBytes({ validator.validate($0) }) else { throw Refused() }
            let line = accepted.rewritten ?? bytes
            XCTAssertFalse(line.contains(0x0A) || line.contains(0x0D), "one line: \(String(decoding: line, as: UTF8.self))")
            guard case .failure(.unauthorized) = line.withUnsafeBytes({ stored.validate($0) }) else {
                return XCTFail("the stored line still carries the token: \(String(decoding: line, as: UTF8.self))")
            }
            guard case .success(let again) = line.withUnsafeBytes({ open.validate($0) }) else {
                return XCTFail("the stored line does not decode: \(String(decoding: line, as: UTF8.self))")
            }
            XCTAssertEqual([again.event.kind.rawValue, again.event.run, "\(again.event.rank)", "\(again.event.seq)"],
                           [accepted.event.kind.rawValue, accepted.event.run, "\(accepted.event.rank)", "\(accepted.event.seq)"])
        }, isExpected: { $0 is Refused })
        XCTAssertGreaterThan(result.accepted, 0, "some mutations stay valid events")
        XCTAssertLessThan(result.accepted, Self.runs, "most mutations are refused")
        print("fuzz telemetry: \(Self.runs) runs over \(seeds.count) seeds, \(result.accepted) accepted, \(Int(result.perSecond)) runs/s")
    }
}
