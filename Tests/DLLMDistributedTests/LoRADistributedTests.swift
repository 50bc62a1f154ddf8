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

    func testLoRAAtTwoRanksMatchesOneProcessAndSendsOnlyAdapters() throws {
        let reference = try train(ranks: nil, output: "lora-reference", Self.loraOptions + ["--gradient_accumulation_steps", "4"])
        XCTAssertEqual(reference.status, 0, reference.output)
        let expected = try losses("lora-reference")
        XCTAssertEqual(expected.count, 10)
        let adapters = try adapterCount("lora-reference")
        XCTAssertEqual(adapters, 2 * (2 * 4 * (32 + 32) + 2 * 4 * (32 + 16) + 3 * 4 * (32 + 64)), "r 4 on every block linear of the 2-layer fixture")
        for stage in ["ddp", "zero2", "fsdp"] {
            let name = "lora-\(stage)"
            let run = try train(ranks: 2, stage: stage, output: name, Self.loraOptions)
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
        let lora = try train(ranks: nil, output: "lora", Self.loraOptions + ["--model_name_or_path", base.path, "--max_steps", "3"])
        XCTAssertEqual(lora.status, 0, lora.output)
        let adapter = work.appendingPathComponent("lora/checkpoint-final")
        let merged = work.appendingPathComponent("merged")
        let dllm = DistributedTrainingTests.dllm.path
        let merge = try ChildProcess.run([dllm, "checkpoint", "merge-lora", base.path, adapter.path, merged.path], mergingErrors: true)
        XCTAssertEqual(merge.status, 0, merge.output)
        XCTAssertTrue(merge.output.contains("merged 14 adapted layers"), merge.output)

        let before = try SafeTensorsFile(contentsOf: base.appendingPathComponent("model.safetensors"))
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
        let viaAdapter = try ChildProcess.run([dllm] + prompt + ["--model", base.path, "--adapter", adapter.path])
        let viaMerged = try ChildProcess.run([dllm] + prompt + ["--model", merged.path])
        let plain = try ChildProcess.run([dllm] + prompt + ["--model", base.path])
        XCTAssertEqual(viaAdapter.status, 0, viaAdapter.output)
        XCTAssertEqual(viaAdapter.output, viaMerged.output)
        print("base: \(plain.output.debugDescription); with adapter: \(viaAdapter.output.debugDescription)")
        let refused = try ChildProcess.run([dllm] + prompt + ["--model", base.path, "--adapter", base.path], mergingErrors: true)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("adapter_config.json"), refused.output)
    }
}
