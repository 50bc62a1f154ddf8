import DLLMCheckpoint
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
}
