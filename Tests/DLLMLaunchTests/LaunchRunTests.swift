import DLLMLaunch
import Foundation
import XCTest

/// `dllm-launch` at world sizes 1, 2 and 4 with each strategy's accelerate config: the
/// same final weights as one process with the same global batch, a log per rank, rank
/// 0's output on the console (every rank's with --tee), and the run's environment.
final class LaunchRunTests: LaunchTestCase {
    /// Every shipped config but cpu.yaml says `mixed_precision: bf16`, so those runs train with
    /// bf16 products (as HF Trainer under accelerate) and match one bf16 process.
    func testWorldSizesOneTwoAndFourWithEachStrategyMatchOneProcess() throws {
        let cases: [(ranks: Int, config: String, sharding: String, bf16: Bool)] = [
            (1, "cpu", "ddp", false), (2, "ddp", "ddp", true), (2, "zero1", "zero1", true), (2, "fsdp2", "fsdp", true),
            (4, "zero2", "zero2", true), (4, "zero3", "fsdp", true), (4, "fsdp", "fsdp", true),
        ]
        struct Reference: Hashable { var ranks: Int, bf16: Bool }
        var references: [Reference: [String: [Float]]] = [:]
        for reference in Set(cases.map { Reference(ranks: $0.ranks, bf16: $0.bf16) } + [Reference(ranks: 2, bf16: false)]) {
            let name = "reference-\(reference.ranks)-\(reference.bf16)"
            try trainAlone(output: name, ["--gradient_accumulation_steps", "\(2 * reference.ranks)", "--bf16", "\(reference.bf16)"])
            references[reference] = try weights(name)
        }
        var sameWorldSize: [Int: [String: [Float]]] = [:]
        for (ranks, config, sharding, bf16) in cases {
            let name = "\(config)-\(ranks)"
            let run = try launch(["--num_processes", "\(ranks)", "--config", Self.repository.appendingPathComponent("configs/\(config).yaml").path,
                                  trainConfig.path, "--output_dir", work.appendingPathComponent(name).path])
            XCTAssertEqual(run.status, 0, "\(name): \(run.output)")
            guard run.status == 0 else { continue }
            XCTAssertTrue(run.output.contains("parallel: \(sharding) over \(ranks) rank"), "\(name): \(run.output)")
            XCTAssertTrue(run.output.contains("ignored on CPU: "), "\(name): the GPU-only keys are reported")
            XCTAssertEqual(run.output.contains("bf16 from ACCELERATE_MIXED_PRECISION=bf16"), bf16, "\(name): \(run.output)")
            let trained = try weights(name)
            // Every strategy at one world size reduces the same per-rank gradients, in another order
            // (all-reduce or reduce-scatter), and one process sums the micro-batches in another order
            // again. In float32 that is 1e-7 noise; with bf16 products a float32 value that differs by
            // that much can round to the neighbouring bf16 value (2⁻⁸ relative), which AdamW then
            // carries on: measured 3.4e-4 at 2 ranks after 10 steps, while the float32 run is 1.2e-2
            // away. Where a component's gradient is a near-cancelling sum (the mask token's embedding
            // row) such a flip can turn its sign, and AdamW's normalised step moves that one weight by
            // about the learning rate: since the gate and up outputs are rounded too, one of 16,384
            // embedding weights ends 4e-3 from the one-process run at 4 ranks, and 21 lie 1e-5–1.7e-4
            // apart between DDP and FSDP at 2. So bf16 runs are held to allclose 1e-3 with at most 1
            // in 1,000 elements of a tensor beyond it (within 1e-2); float32 runs to 1e-5, and the
            // float32 run must be outside 1e-3 of the bf16 runs.
            let tolerance: Float = bf16 ? 1e-3 : 1e-5
            if let first = sameWorldSize[ranks] {
                assertClose(trained, first, "\(name) against the first \(ranks)-rank strategy", tolerance: tolerance, bf16Flips: bf16)
            } else {
                sameWorldSize[ranks] = trained
            }
            assertClose(trained, references[Reference(ranks: ranks, bf16: bf16)]!, name, tolerance: tolerance, bf16Flips: bf16)
            if bf16 && run.output.contains("multiply in bfloat16") && ranks == 2 {
                XCTAssertFalse(isClose(trained, references[Reference(ranks: 2, bf16: false)]!, tolerance: 1e-3),
                               "\(name): bf16 products left the weights within 1e-3 of the float32 run")
            }
            for rank in 0..<ranks {
                let log = work.appendingPathComponent("\(name)/logs/rank-\(rank).log")
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                XCTAssertTrue(text.contains("[dllm rank \(rank)]") || ranks == 1, "\(name): rank \(rank)'s own log")
            }
            XCTAssertFalse(run.output.contains("[dllm rank 1]"), "\(name): only rank 0 reaches the console without --tee")
            XCTAssertEqual(ourProcesses(), [], "\(name): nothing left running")
        }
    }

    func testTeeShowsEveryRankPrefixed() throws {
        let run = try launch(["--num-processes", "2", "--tee", trainConfig.path, "--max_steps", "2"])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("[rank 1] [dllm rank 1]"), run.output)
        XCTAssertTrue(run.output.contains("[rank 0] [dllm rank 0]"), run.output)
    }

    /// A stand-in `dllm` that prints the environment the launcher gives every rank, and a
    /// stand-in `dllm-collector` that announces an address: the address, run id, thread
    /// counts and sharding reach every rank, and the collector is stopped at the end.
    func testRanksGetTheRunEnvironmentAndTheCollectorIsStartedAndStopped() throws {
        let bin = work.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let fakeDLLM = bin.appendingPathComponent("fake-dllm")
        try """
        #!/bin/sh
        echo "rank=$OMPI_COMM_WORLD_RANK collector=$DLLM_COLLECTOR run=$DLLM_RUN_ID threads=$DLLM_NUM_THREADS omp=$OMP_NUM_THREADS sharding=$DLLM_SHARDING world=$DLLM_WORLD_SIZE amp=$ACCELERATE_MIXED_PRECISION args=$*"
        """.write(to: fakeDLLM, atomically: true, encoding: .utf8)
        let fakeCollector = bin.appendingPathComponent("dllm-collector")
        try """
        #!/bin/sh
        trap 'echo stopped > "\(work.path)/collector-stopped"; exit 0' TERM
        echo "args: $*" > "\(work.path)/collector-args"
        echo '{"pull":"tcp://127.0.0.1:45999","pub":"tcp://127.0.0.1:46000"}'
        while true; do sleep 0.1; done
        """.write(to: fakeCollector, atomically: true, encoding: .utf8)
        for file in [fakeDLLM, fakeCollector] { chmod(file.path, 0o755) }

        // The launcher runs from a folder without the built collector beside it, so the stand-in
        // first on PATH is the one it starts.
        let path = bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let launcher = try isolatedLauncher(withDLLM: false)
        let run = try launch(["--num_processes", "2", "--tee", "--zero_stage", "2", "--dllm", fakeDLLM.path, trainConfig.path, "--seed", "3"],
                             environment: ["PATH": path, "DLLM_RUN_ID": "test-run", "DLLM_NUM_THREADS": "1"], launcher: launcher)
        XCTAssertEqual(run.status, 0, run.output)
        for rank in 0..<2 {
            XCTAssertTrue(run.output.contains("rank=\(rank) collector=tcp://127.0.0.1:45999 run=test-run threads=1 omp=1 sharding=zero2 world=2 amp=no args=train \(trainConfig.path) --seed 3"),
                          run.output)
        }
        let args = try String(contentsOf: work.appendingPathComponent("collector-args"), encoding: .utf8)
        XCTAssertTrue(args.contains("run --bind 127.0.0.1 --port 0 --pub-port 0 --http-port 0 --run-dir \(work.appendingPathComponent("out").path) --exit-with-parent"), args)
        XCTAssertTrue(FileManager.default.fileExists(atPath: work.appendingPathComponent("collector-stopped").path), "the collector got SIGTERM")
        XCTAssertEqual(ourProcesses(), [])

        let without = try launch(["--num_processes", "1", "--collector", "none", "--dllm", fakeDLLM.path, trainConfig.path])
        XCTAssertTrue(without.output.contains("collector= "), without.output)
        let external = try launch(["--num_processes", "1", "--collector", "tcp://10.1.2.3:5555", "--dllm", fakeDLLM.path, trainConfig.path])
        XCTAssertTrue(external.output.contains("collector=tcp://10.1.2.3:5555"), external.output)
        // accelerate's mixed_precision reaches the ranks as ACCELERATE_MIXED_PRECISION; the flag, even
        // after the training config, wins over the launch config.
        let zero2 = Self.repository.appendingPathComponent("configs/zero2.yaml").path
        let bf16 = try launch(["--num_processes", "1", "--collector", "none", "--dllm", fakeDLLM.path, "--config", zero2, trainConfig.path])
        XCTAssertTrue(bf16.output.contains("amp=bf16 args=train \(trainConfig.path)"), bf16.output)
        let float32 = try launch(["--num_processes", "1", "--collector", "none", "--dllm", fakeDLLM.path, "--config", zero2, trainConfig.path,
                                  "--mixed_precision", "no", "--seed", "3"])
        XCTAssertTrue(float32.output.contains("amp=no args=train \(trainConfig.path) --seed 3"), float32.output)
    }

    /// A machine without `dllm-collector`: the launcher, in a folder of its own with `dllm` and a
    /// PATH of the system folders only, finds no collector, says so once, and trains.
    func testWithoutACollectorTheLauncherSaysSoOnceAndContinues() throws {
        let launcher = try isolatedLauncher(withDLLM: true)
        let systemPath = ["/usr/bin", "/bin"].filter { !FileManager.default.fileExists(atPath: $0 + "/dllm-collector") }
        let mpirun = try XCTUnwrap(ChildProcess.which("mpirun"), "mpirun is needed")
        let path = ([URL(fileURLWithPath: mpirun).deletingLastPathComponent().path] + systemPath).joined(separator: ":")
        let run = try launch(["--num_processes", "1", trainConfig.path, "--max_steps", "1"], environment: ["PATH": path], launcher: launcher)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertEqual(run.output.components(separatedBy: "no dllm-collector").count - 1, 1, run.output)
    }
}
