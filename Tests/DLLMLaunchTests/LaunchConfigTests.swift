import DLLMConfig
import DLLMLaunch
import Foundation
import XCTest

/// accelerate's launch configs as they are, the command-line flags over them, and the
/// errors for a misspelled key or a bad value (through the real binary).
final class LaunchConfigTests: LaunchTestCase {
    func testEveryShippedLaunchConfigIsAcceptedUnchanged() throws {
        let expected = ["ddp": "ddp", "zero1": "zero1", "zero2": "zero2", "zero3": "fsdp", "fsdp": "fsdp", "fsdp2": "fsdp", "cpu": "ddp"]
        for (name, sharding) in expected {
            let path = Self.repository.appendingPathComponent("configs/\(name).yaml").path
            let config = try LaunchConfig.load(path: path)
            XCTAssertEqual(config.shardingName, sharding, name)
            XCTAssertFalse(config.ignored.contains("mixed_precision"), "\(name): mixed_precision is honoured")
            XCTAssertEqual(config.mixedPrecision, name == "cpu" ? .no : .bf16, name)
            XCTAssertTrue(config.ignored.contains("use_cpu"), name)
        }
        XCTAssertEqual(try LaunchConfig.load(path: Self.repository.appendingPathComponent("configs/fsdp2.yaml").path).fsdpVersion, 2)
        XCTAssertEqual(try LaunchConfig.load(path: Self.repository.appendingPathComponent("configs/cpu.yaml").path).numProcesses, 2)
    }

    /// Every key of accelerate's cluster config, then the flags that override them.
    func testEveryAccelerateKeyIsReadAndFlagsOverrideTheFile() throws {
        let path = work.appendingPathComponent("all-keys.yaml")
        try """
        compute_environment: LOCAL_MACHINE
        debug: false
        deepspeed_config:
          deepspeed_multinode_launcher: standard
          gradient_accumulation_steps: 4
          gradient_clipping: 0.25
          offload_optimizer_device: none
          offload_param_device: none
          zero3_init_flag: false
          zero3_save_16bit_model: false
          zero_stage: 1
        distributed_type: DEEPSPEED
        downcast_bf16: 'no'
        dynamo_config: {}
        enable_cpu_affinity: false
        gpu_ids: all
        machine_rank: 0
        main_process_ip: 10.0.0.1
        main_process_port: 29500
        main_training_function: main
        mixed_precision: bf16
        num_machines: 1
        num_processes: 4
        rdzv_backend: c10d
        same_network: true
        tpu_env: []
        tpu_use_cluster: false
        tpu_use_sudo: false
        tpu_name: null
        tpu_zone: null
        use_cpu: false
        """.write(to: path, atomically: true, encoding: .utf8)
        var options = LaunchOptions(trainingConfig: trainConfig.path)
        options.launchConfigPath = path.path
        let fromFile = try LaunchPlan.resolve(options, environment: [:], coresPerMachine: 8)
        XCTAssertEqual(fromFile.worldSize, 4)
        XCTAssertEqual(fromFile.sharding, "zero1")
        XCTAssertEqual(fromFile.threadsPerRank, 2, "8 cores / 4 ranks")
        XCTAssertEqual(fromFile.launchConfig.mainProcessIP, "10.0.0.1")
        XCTAssertEqual(fromFile.launchConfig.mainProcessPort, 29500)
        XCTAssertEqual(fromFile.trainingArguments, ["--gradient_accumulation_steps", "4", "--max_grad_norm", "0.25"])
        XCTAssertTrue(fromFile.notes[0].contains("ignored on CPU: "), fromFile.notes[0])
        XCTAssertFalse(fromFile.notes[0].contains("mixed_precision"), fromFile.notes[0])
        XCTAssertEqual(fromFile.mixedPrecision, .bf16)
        XCTAssertTrue(fromFile.notes.contains { $0.hasPrefix("mixed_precision bf16") }, "\(fromFile.notes)")
        for key in ["tpu_env", "tpu_use_cluster", "tpu_use_sudo", "use_cpu", "downcast_bf16", "gpu_ids"] {
            XCTAssertTrue(fromFile.notes[0].contains(key), key)
        }
        XCTAssertEqual(fromFile.outputDirectory.path, work.appendingPathComponent("out").path)

        options.numProcesses = 2
        options.zeroStage = 3
        options.gradientAccumulationSteps = 3
        options.mixedPrecision = MixedPrecision.no
        options.trainingOverrides = ["--max_grad_norm", "1.0", "--output_dir", "elsewhere"]
        let overridden = try LaunchPlan.resolve(options, environment: [:], coresPerMachine: 8)
        XCTAssertEqual(overridden.worldSize, 2)
        XCTAssertEqual(overridden.sharding, "fsdp")
        XCTAssertEqual(overridden.threadsPerRank, 4)
        XCTAssertEqual(overridden.trainingArguments, ["--max_grad_norm", "1.0", "--output_dir", "elsewhere", "--gradient_accumulation_steps", "3"])
        XCTAssertEqual(overridden.outputDirectory.lastPathComponent, "elsewhere")
        XCTAssertEqual(overridden.mixedPrecision, .no, "--mixed_precision no wins over the file")
        XCTAssertFalse(overridden.notes.contains { $0.hasPrefix("mixed_precision") })
        XCTAssertEqual(try LaunchPlan.resolve(LaunchOptions(trainingConfig: trainConfig.path), environment: [:], coresPerMachine: 8).mixedPrecision,
                       .no, "without a launch config, as accelerate: no")
        XCTAssertEqual(try LaunchPlan.resolve(options, environment: ["DLLM_NUM_THREADS": "1"], coresPerMachine: 8).threadsPerRank, 1)
    }

    func testThreadsNeverOversubscribeAndSlurmGivesTheCores() {
        XCTAssertEqual(ThreadBudget.threadsPerRank(explicit: nil, environment: [:], slurm: nil, ranksPerMachine: 4, coresPerMachine: 2), 1)
        XCTAssertEqual(ThreadBudget.threadsPerRank(explicit: nil, environment: [:], slurm: nil, ranksPerMachine: 3, coresPerMachine: 16), 5)
        let slurm = SlurmAllocation.current(["SLURM_JOB_ID": "7", "SLURM_JOB_NUM_NODES": "2", "SLURM_NTASKS": "8",
                                             "SLURM_TASKS_PER_NODE": "4(x2)", "SLURM_CPUS_PER_TASK": "6", "SLURM_CPUS_ON_NODE": "24"])
        XCTAssertEqual(slurm?.tasks, 8)
        XCTAssertEqual(slurm?.tasksPerNode, 4)
        XCTAssertEqual(ThreadBudget.threadsPerRank(explicit: nil, environment: [:], slurm: slurm, ranksPerMachine: 4, coresPerMachine: 24), 6)
        XCTAssertEqual(ThreadBudget.threadsPerRank(explicit: 3, environment: ["DLLM_NUM_THREADS": "5"], slurm: slurm, ranksPerMachine: 4, coresPerMachine: 24), 3)
    }

    func testTheMpirunAndSrunCommandLines() throws {
        var options = LaunchOptions(trainingConfig: trainConfig.path)
        options.numProcesses = 4
        let plan = try LaunchPlan.resolve(options, environment: [:], coresPerMachine: 2)
        let mpirun = RankStarter.mpirunArguments(mpirun: "mpirun", plan: plan, rank: ["agent"],
                                                 environment: ["DLLM_RUN_ID": "x", "HOME": "/", "OPENBLAS_THREAD_TIMEOUT": "12", "ACCELERATE_MIXED_PRECISION": "bf16"],
                                                 hostfile: nil, isRoot: true)
        XCTAssertEqual(mpirun, ["mpirun", "--allow-run-as-root", "--bind-to", "none", "-np", "4", "--oversubscribe",
                                "-x", "ACCELERATE_MIXED_PRECISION", "-x", "DLLM_RUN_ID", "-x", "OPENBLAS_THREAD_TIMEOUT", "agent"])
        let slurm: [String: String] = ["SLURM_JOB_ID": "9", "SLURM_JOB_NUM_NODES": "2", "SLURM_NTASKS": "4", "SLURM_CPUS_ON_NODE": "8"]
        let inSlurm = try LaunchPlan.resolve(LaunchOptions(trainingConfig: trainConfig.path), environment: slurm)
        XCTAssertEqual(inSlurm.worldSize, 4)
        XCTAssertEqual(inSlurm.numMachines, 2)
        XCTAssertEqual(inSlurm.threadsPerRank, 4)
        XCTAssertEqual(RankStarter.srunArguments(srun: "srun", plan: inSlurm, rank: ["agent"], environment: [:]),
                       ["srun", "--mpi=pmix", "--kill-on-bad-exit=1", "--ntasks=4", "--nodes=2", "--ntasks-per-node=2", "--cpu-bind=none", "agent"])
        XCTAssertEqual(LaunchCoordinator.runID(environment: [:], slurm: inSlurm.slurm, config: "x.yaml"), "slurm-9")
    }

    func testOutputDirectoryAndResumeArguments() {
        XCTAssertEqual(OutputDirectory.resumingLatest(["--a", "1", "--resume_from_checkpoint", "/x", "--b=2"]),
                       ["--a", "1", "--b=2", "--resume_from_checkpoint", "true"])
        XCTAssertEqual(OutputDirectory.resumingLatest(["--resume-from-checkpoint=/x"]), ["--resume_from_checkpoint", "true"])
        XCTAssertTrue(OutputDirectory.resumeChosen(["--resume_from_checkpoint", "false"]))
        XCTAssertFalse(OutputDirectory.resumeChosen(["--max_steps", "3"]))
    }

    func testFailuresAsMpirunAndSrunReportThem() {
        let mpirun = FailureReport.starterReport(["x", "mpirun noticed that process rank 1 with PID 0 on node vm exited on signal 9 (Killed)."])
        XCTAssertEqual(mpirun?.rank, 1)
        XCTAssertEqual(mpirun?.host, "vm")
        XCTAssertEqual(mpirun?.termination, .signaled(9))
        let srun = FailureReport.starterReport(["srun: error: node2: task 3: Exited with exit code 2"])
        XCTAssertEqual(srun?.rank, 3)
        XCTAssertEqual(srun?.termination, .exited(2))
    }

    // MARK: Errors, through the binary

    func assertLaunchFails(_ arguments: [String], naming words: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let run = try launch(arguments)
        XCTAssertNotEqual(run.status, 0, run.output, file: file, line: line)
        for word in words { XCTAssertTrue(run.output.contains(word), "\(word) not in: \(run.output)", file: file, line: line) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("out/logs/rank-0.log").path),
                       "no rank was started", file: file, line: line)
    }

    func testMisspelledKeysAndBadValuesAreErrorsNamingThem() throws {
        let bad = work.appendingPathComponent("bad.yaml")
        let cases: [(String, [String])] = [
            ("distributed_type: DEEPSPEED\nnum_procesess: 2\n", ["bad.yaml:2", "num_procesess", "num_processes"]),
            ("distributed_type: MULTI_TPU\n", ["bad.yaml:1", "distributed_type", "MULTI_TPU"]),
            ("distributed_type: DEEPSPEED\ndeepspeed_config:\n  zero_stage: 5\n", ["bad.yaml:3", "deepspeed_config.zero_stage", "0, 1, 2 or 3"]),
            ("distributed_type: DEEPSPEED\ndeepspeed_config:\n  zero_stag: 2\n", ["bad.yaml:3", "deepspeed_config.zero_stag"]),
            ("distributed_type: FSDP\nfsdp_config:\n  fsdp_sharding_strategy: HALF_SHARD\n", ["fsdp_config.fsdp_sharding_strategy"]),
            ("num_processes: two\n", ["bad.yaml:1", "num_processes", "integer"]),
            ("num_processes: 1\nmixed_precision: fp16\n", ["bad.yaml:2", "mixed_precision", "fp16 is a GPU format", "bf16 or no"]),
            ("mixed_precision: bf32\n", ["bad.yaml:1", "mixed_precision", "not one of no, bf16"]),
        ]
        for (text, words) in cases {
            try text.write(to: bad, atomically: true, encoding: .utf8)
            try assertLaunchFails(["--config", bad.path, trainConfig.path], naming: words)
        }
        try assertLaunchFails(["--zero_stage", "7", trainConfig.path], naming: ["--zero_stage", "7"])
        try assertLaunchFails(["--mixed_precision", "fp8", trainConfig.path], naming: ["--mixed_precision", "fp8", "GPU format"])
        try assertLaunchFails(["--num_processes", "3", "--num_machines", "2", trainConfig.path], naming: ["--num_processes", "num_machines"])
        try assertLaunchFails(["--config", work.appendingPathComponent("missing.yaml").path, trainConfig.path], naming: ["missing.yaml", "no such file"])
    }

    /// A bad training override is dllm train's error, shown as the failed rank's last lines.
    func testABadTrainingOverrideIsNamed() throws {
        let run = try launch(["--num_processes", "2", trainConfig.path, "--max_stepz", "5"])
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.output.contains("max_stepz"), run.output)
        XCTAssertTrue(run.output.contains("max_steps"), "the nearest key is suggested: \(run.output)")
    }
}
