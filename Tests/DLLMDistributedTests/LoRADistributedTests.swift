import DLLMCheckpoint
import DLLMProcess
import Foundation
import XCTest

/// LoRA under real OpenMPI ranks: DDP, ZeRO-2 and FSDP at 2 ranks reproduce one process with the
/// same global batch, and the collectives carry the adapter parameters only (the base is frozen).
extension DistributedTrainingTests {
    /// The fixture model's `dllm train` with r 4 all-linear adapters (dropout 0: one process and
    /// two ranks draw different micro-batch streams otherwise).
    static let loraOptions = ["--lora", "true", "--r", "4", "--lora_alpha", "8", "--lora_dropout", "0"]

    func adapterCount(_ output: String) throws -> Int {
        let file = try SafeTensorsFile(contentsOf: work.appendingPathComponent(output).appendingPathComponent("checkpoint-final/adapter_model.safetensors"))
        XCTAssertTrue(file.tensorNames.allSatisfy { $0.contains(".lora_A.") || $0.contains(".lora_B.") }, "\(file.tensorNames)")
        return file.tensors.reduce(0) { $0 + $1.elementCount }
    }

    /// The tiny llama of the same shape in Q4_1/Q8_0 blocks, with the fixture tokenizer in its
    /// metadata (Fixtures/generate_tiny_gguf_base.py).
    static let ggufBase = fixtures.appendingPathComponent("gguf/tiny_llama_q4.gguf")

    func testLoRAAtTwoRanksMatchesOneProcessAndSendsOnlyAdapters() throws {
        try assertLoRAStrategiesMatchOneProcess(prefix: "lora", Self.loraOptions)
    }

    /// The same over a GGUF base kept in its blocks (`base_quantization: gguf`, implied by the path).
    func testLoRAOverAGGUFBaseAtTwoRanksMatchesOneProcessAndSendsOnlyAdapters() throws {
        try assertLoRAStrategiesMatchOneProcess(prefix: "lora-gguf", Self.loraOptions + ["--model_name_or_path", Self.ggufBase.path])
    }

    func assertLoRAStrategiesMatchOneProcess(prefix: String, _ options: [String]) throws {
        let reference = try train(ranks: nil, output: "\(prefix)-reference", options + ["--gradient_accumulation_steps", "4"])
        XCTAssertEqual(reference.status, 0, reference.output)
        let expected = try losses("\(prefix)-reference")
        XCTAssertEqual(expected.count, 10)
        let adapters = try adapterCount("\(prefix)-reference")
        XCTAssertEqual(adapters, 2 * (2 * 4 * (32 + 32) + 2 * 4 * (32 + 16) + 3 * 4 * (32 + 64)), "r 4 on every block linear of the 2-layer fixture")
        for stage in ["ddp", "zero2", "fsdp"] {
            let name = "\(prefix)-\(stage)"
            let run = try train(ranks: 2, stage: stage, output: name, options)
            XCTAssertEqual(run.status, 0, "\(name): \(run.output)")
            guard run.status == 0 else { continue }
            assertClose(try losses(name), expected, name)
            XCTAssertEqual(try adapterCount(name), adapters)
            // Rank 0's traffic over 10 steps (2 micro-batches each), from the run's log, in units of
            // the adapter bytes: DDP all-reduces the gradients once per step (2·(N−1)/N = 1 at N = 2);
            // ZeRO-2 reduce-scatters them after each micro-batch (2 × ½) and all-gathers the updated
            // adapters (½); FSDP gathers each block for forward and for backward and reduce-scatters its
            // gradients, per micro-batch (2 × 3 × ½). Base parameters would add far more than that.
            let line = try XCTUnwrap(run.output.split(separator: "\n").first { $0.contains("collectives: rank 0 sent") }, run.output)
            let words = line.split(separator: " ")
            let bytes = try XCTUnwrap(words.firstIndex(of: "sent").flatMap { Int(words[$0 + 1]) })
            XCTAssertTrue(line.contains("(\(adapters) trained parameters)"), String(line))
            let perStep = Double(bytes) / 10 / Double(4 * adapters)
            print("\(name): rank 0 sent \(bytes) bytes in 10 steps = \(perStep) × the adapter bytes per step")
            XCTAssertEqual(perStep, ["ddp": 1, "zero2": 1.5, "fsdp": 3][stage]!, accuracy: 1e-3, name)
        }
    }

    /// `dllm checkpoint merge-lora` and `--adapter`: a LoRA run on a base with weights (a one-step
    /// full fine-tune's checkpoint), merged into a new folder, holds W + s·B·A for every adapted
    /// layer and nothing else changed; `dllm generate --adapter` samples exactly what the merged folder samples.
    func testMergeLoRAAndGenerateWithAnAdapter() throws {
        XCTAssertEqual(try train(ranks: nil, output: "base", ["--max_steps", "1"]).status, 0)
        let base = work.appendingPathComponent("base/checkpoint-final")
        try assertMergeAndAdapterGeneration(base: base.path, floatBase: base, output: "lora")
    }

    /// The same over a GGUF base: merge-lora dequantises the file (its float folder is what
    /// `dllm convert gguf` writes) and `--adapter` loads it dequantised.
    func testMergeLoRAAndGenerateWithAnAdapterOverAGGUFBase() throws {
        let converted = work.appendingPathComponent("converted")
        let convert = try ChildProcess.run([DistributedTrainingTests.dllm.path, "convert", "gguf", Self.ggufBase.path, converted.path], mergingErrors: true)
        XCTAssertEqual(convert.status, 0, convert.output)
        try assertMergeAndAdapterGeneration(base: Self.ggufBase.path, floatBase: converted, output: "lora-gguf")
    }

    /// Trains adapters over `base` (a folder or a .gguf), merges them, and checks the merged weights
    /// against `floatBase`'s (the base's float weights) + s·B·A and generation through `--adapter`.
    func assertMergeAndAdapterGeneration(base: String, floatBase: URL, output: String) throws {
        let lora = try train(ranks: nil, output: output, Self.loraOptions + ["--model_name_or_path", base, "--max_steps", "3"])
        XCTAssertEqual(lora.status, 0, lora.output)
        let adapter = work.appendingPathComponent("\(output)/checkpoint-final")
        let merged = work.appendingPathComponent("\(output)-merged")
        let dllm = DistributedTrainingTests.dllm.path
        let merge = try ChildProcess.run([dllm, "checkpoint", "merge-lora", base, adapter.path, merged.path], mergingErrors: true)
        XCTAssertEqual(merge.status, 0, merge.output)
        XCTAssertTrue(merge.output.contains("merged 14 adapted layers"), merge.output)

        let before = try SafeTensorsFile(contentsOf: floatBase.appendingPathComponent("model.safetensors"))
        let after = try SafeTensorsFile(contentsOf: merged.appendingPathComponent("model.safetensors"))
        let adapters = try SafeTensorsFile(contentsOf: adapter.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertEqual(before.tensorNames.sorted(), after.tensorNames.sorted())
        let scale: Float = 8.0 / 4.0
        for name in before.tensorNames {
            var expected = try before.floats(name)
            let module = "base_model.model." + name.dropLast(".weight".count)
            if let a = adapters.info(module + ".lora_A.weight") {
                let A = try adapters.floats(a.name), B = try adapters.floats(module + ".lora_B.weight")
                let r = a.shape[0], inputs = a.shape[1], outputs = expected.count / inputs
                for o in 0..<outputs {
                    for i in 0..<inputs {
                        var sum: Float = 0
                        for k in 0..<r { sum += B[o * r + k] * A[k * inputs + i] }
                        expected[o * inputs + i] += scale * sum
                    }
                }
                XCTAssertNotEqual(try before.floats(name), expected, "\(name): the trained adapter is zero")
            }
            let got = try after.floats(name)
            let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-5, name)
        }
        for file in ["config.json", "tokenizer.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: merged.appendingPathComponent(file).path), file)
        }

        let prompt = ["generate", "--prompt", "To be, or not", "--gen-length", "8", "--steps", "8", "--threads", "1"]
        let viaAdapter = try ChildProcess.run([dllm] + prompt + ["--model", base, "--adapter", adapter.path])
        let viaMerged = try ChildProcess.run([dllm] + prompt + ["--model", merged.path])
        let plain = try ChildProcess.run([dllm] + prompt + ["--model", base])
        XCTAssertEqual(viaAdapter.status, 0, viaAdapter.output)
        XCTAssertEqual(viaAdapter.output, viaMerged.output)
        print("base: \(plain.output.debugDescription); with adapter: \(viaAdapter.output.debugDescription)")
        let refused = try ChildProcess.run([dllm] + prompt + ["--model", base, "--adapter", floatBase.path], mergingErrors: true)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("adapter_config.json"), refused.output)
    }
}
