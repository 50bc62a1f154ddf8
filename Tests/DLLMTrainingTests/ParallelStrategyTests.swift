import DLLMCheckpoint
import DLLMCompute
import DLLMDistributed
import DLLMModels
@testable import DLLMTraining
import Foundation
import XCTest

/// The strategy seam in one process: a trainer built with the single-process strategy
/// and with DDP, ZeRO-1, ZeRO-2 and FSDP (world size 1, `SingleProcessCommunicator`)
/// through the same code path trains like the default trainer, on an untied and on a
/// tied-embedding model; a checkpoint written by each resumes under another strategy.
/// (The same strategies at 2 and 4 real MPI ranks: `DistributedTrainingTests`.)
final class ParallelStrategyTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-strategy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    static let V = 32

    static func modelConfig(tied: Bool) -> [String: Any] {
        var config = TrainerTests.modelConfig
        config["weight_tying"] = tied
        return config
    }

    /// Every plan at world size 1; nil is the single-process strategy. Small buckets so
    /// DDP and ZeRO cut the buffer into several, as at scale.
    static let plans: [(String, ParallelPlan?)] = [
        ("single", nil),
        ("ddp", ParallelPlan(stage: .ddp, bucketElements: 3000)),
        ("zero1", ParallelPlan(stage: .zero1, bucketElements: 3000)),
        ("zero2", ParallelPlan(stage: .zero2, bucketElements: 3000)),
        ("fsdp", ParallelPlan(stage: .fsdp)),
    ]

    /// `strategy`: nil builds the trainer without one (the default single-process trainer);
    /// `.some(plan)` builds `ParallelStrategies.make(plan:)` and passes it in.
    func makeTrainer(tied: Bool, strategy: ParallelPlan?? = nil, output: String,
                     objective: Objective = MaskedDiffusionObjective(maskTokenID: Int32(V - 1)),
                     _ edit: (inout TrainingConfig) -> Void = { _ in }) throws -> Trainer {
        let folder = directory.appendingPathComponent(tied ? "model-tied" : "model")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: Self.modelConfig(tied: tied)).write(to: folder.appendingPathComponent("config.json"))
        var config = TrainingConfig(modelNameOrPath: folder.path, datasetArgs: "memory", outputDir: directory.appendingPathComponent(output).path)
        config.learningRate = 3e-3
        config.perDeviceTrainBatchSize = 4
        config.gradientAccumulationSteps = 2
        config.maxSteps = 8
        config.loggingSteps = 1
        config.saveSteps = 1000
        config.lrSchedulerType = "cosine"
        config.warmupSteps = 2
        config.weightDecay = 0.1
        config.maxGradNorm = 0.5  // small enough that clipping is active
        edit(&config)
        let loaded = try ModelFolder.load(folder, as: Float.self, seed: 3)
        let data = InMemoryDataSource(sequences: TrainerTests.corpus(), labels: TrainerTests.labels(),
                                      batchSize: config.perDeviceTrainBatchSize, seed: UInt64(config.seed))
        let chosen = strategy.map { ParallelStrategies.make(model: loaded.model, comm: SingleProcessCommunicator(), plan: $0) }
        return Trainer(config: config, model: loaded.model, modelConfig: loaded.config,
                       objective: objective, data: data, strategy: chosen, log: { _ in })
    }

    func losses(_ state: TrainerState) -> [Double] { state.logHistory.compactMap(\.loss) }

    /// `torch.allclose(rtol=1e-5, atol=1e-5)`: ZeRO-2 and FSDP add micro-batch gradients
    /// in their shard rather than in place, a different float32 summation order.
    func assertClose(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) - 1e-5 * abs($1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 1e-5, what, file: file, line: line)
    }

    func assertClose(_ a: [Double], _ b: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() {
            XCTAssertEqual(x, y, accuracy: 1e-5 * abs(y), "\(what): loss at step \(i + 1)", file: file, line: line)
        }
    }

    func testTiedWeightsReachTheStrategyThroughTheLayout() throws {
        // LLaDA's names: the output head `ff_out` tied to the token embedding `wte`.
        let tied = try makeTrainer(tied: true, output: "a").model.layout
        XCTAssertEqual(tied.ties.map(\.name), ["model.transformer.ff_out.weight"])
        XCTAssertEqual(tied.ties.map(\.storage), ["model.transformer.wte.weight"])
        let embedding = try XCTUnwrap(tied.slot("model.transformer.wte.weight"))
        XCTAssertEqual(tied.sharedStorage, [embedding.range])
        XCTAssertNil(tied.slot("model.transformer.ff_out.weight"), "a tied head has no storage of its own")
        XCTAssertEqual(tied.blocksHoldingSharedStorage([0..<embedding.count, embedding.count..<tied.count]), [0])
        XCTAssertTrue(try makeTrainer(tied: false, output: "b").model.layout.ties.isEmpty)
    }

    func testEveryStrategyTrainsLikeTheDefaultTrainer() throws {
        for tied in [false, true] {
            let reference = try makeTrainer(tied: tied, output: "reference-\(tied)")
            XCTAssertEqual(reference.strategy.name, "single")
            let expected = losses(try reference.train())
            let expectedWeights = reference.model.parameters.array
            XCTAssertEqual(expected.count, 8)
            for (name, plan) in Self.plans {
                let what = "\(name), tied \(tied)"
                let trainer = try makeTrainer(tied: tied, strategy: .some(plan), output: "\(name)-\(tied)")
                XCTAssertEqual(trainer.strategy.name, name)
                let state = try trainer.train()
                // FSDP holds only its shard between steps; gather to compare.
                let weights = trainer.strategy.withFullParameters { trainer.model.parameters.array }
                if plan == nil || plan?.stage == .ddp || plan?.stage == .zero1 {
                    // Same arithmetic in the same order as one process: bit for bit.
                    XCTAssertEqual(losses(state), expected, what)
                    XCTAssertEqual(weights, expectedWeights, what)
                } else {
                    assertClose(losses(state), expected, what)
                    assertClose(weights, expectedWeights, what)
                }
            }
        }
    }

    /// Block diffusion (2L inputs, the block mask) through every strategy's hooks: the same losses
    /// and weights as the default trainer.
    func testBlockDiffusionTrainsUnderEveryStrategy() throws {
        let objective = BlockDiffusionObjective(maskTokenID: Int32(Self.V - 1), eosTokenID: 2, blockSize: 4)
        let reference = try makeTrainer(tied: false, output: "bd3lm-reference", objective: objective)
        let expected = losses(try reference.train())
        XCTAssertEqual(expected.count, 8)
        XCTAssertTrue(expected.allSatisfy { $0.isFinite && $0 > 0 })
        for (name, plan) in Self.plans where plan != nil {
            let trainer = try makeTrainer(tied: false, strategy: .some(plan), output: "bd3lm-\(name)", objective: objective)
            let state = try trainer.train()
            let weights = trainer.strategy.withFullParameters { trainer.model.parameters.array }
            assertClose(losses(state), expected, "bd3lm, \(name)")
            assertClose(weights, reference.model.parameters.array, "bd3lm, \(name)")
        }
    }

    /// A damaged `sharding.json` (a segment that would send the reader out of bounds) is
    /// a typed error naming the file, not a crash.
    func testADamagedShardMapIsAnErrorNamingTheFile() throws {
        let first = try makeTrainer(tied: false, strategy: .some(ParallelPlan(stage: .fsdp)), output: "damaged")
        first.onStep = { report in if report.step == 2 { first.stopRequested = true } }
        try first.train()
        let checkpoint = try XCTUnwrap(first.checkpoints.latest())
        let metaURL = checkpoint.appendingPathComponent("sharding.json")
        var meta = try JSONSerialization.jsonObject(with: Data(contentsOf: metaURL)) as! [String: Any]
        var map = meta["shardMap"] as! [String: Any]
        var segments = map["segments"] as! [[String: Any]]
        let chunk = segments[1]["chunk"]
        segments[1]["chunk"] = -5
        map["segments"] = segments
        meta["shardMap"] = map
        try JSONSerialization.data(withJSONObject: meta).write(to: metaURL)
        let second = try makeTrainer(tied: false, strategy: .some(ParallelPlan(stage: .zero2)), output: "damaged") {
            $0.resumeFromCheckpoint = "latest"
        }
        XCTAssertThrowsError(try second.train()) { error in
            XCTAssertTrue("\(error)".contains("sharding.json: cannot resume"), "\(error)")
            XCTAssertTrue("\(error)".contains("segment 1"), "\(error)")
        }
        // Issue 17, defect 6: a shard offset of 1e12 used to segfault `checkpoint consolidate`.
        segments[1]["chunk"] = chunk
        segments[1]["shardOffset"] = 1_000_000_000_000
        map["segments"] = segments
        meta["shardMap"] = map
        try JSONSerialization.data(withJSONObject: meta).write(to: metaURL)
        XCTAssertThrowsError(try CheckpointManager.consolidate(checkpoint)) { error in
            XCTAssertTrue("\(error)".contains("segment 1"), "\(error)")
        }
    }

    /// A `sharding.json` whose sizes lie but stay in bounds (a segment's shard offset moved
    /// by one, a chunk one longer) used to be read in silence, shifting the values of every
    /// later segment; resume and `checkpoint consolidate` now refuse it, naming the segment.
    func testAShardMapWhoseSizesLieIsRefusedByResumeAndConsolidate() throws {
        let first = try makeTrainer(tied: false, strategy: .some(ParallelPlan(stage: .fsdp)), output: "lying")
        first.onStep = { report in if report.step == 2 { first.stopRequested = true } }
        try first.train()
        let checkpoint = try XCTUnwrap(first.checkpoints.latest())
        let metaURL = checkpoint.appendingPathComponent("sharding.json")
        let original = try Data(contentsOf: metaURL)
        for (field, delta) in [("shardOffset", -1), ("chunk", 1)] {
            var meta = try JSONSerialization.jsonObject(with: original) as! [String: Any]
            var map = meta["shardMap"] as! [String: Any]
            var segments = map["segments"] as! [[String: Any]]
            XCTAssertGreaterThan(segments.count, 2)
            segments[1][field] = (segments[1][field] as! Int) + delta
            map["segments"] = segments
            meta["shardMap"] = map
            try JSONSerialization.data(withJSONObject: meta).write(to: metaURL)
            let second = try makeTrainer(tied: false, strategy: .some(nil), output: "lying") { $0.resumeFromCheckpoint = "latest" }
            XCTAssertThrowsError(try second.train(), field) { error in
                XCTAssertTrue("\(error)".contains("sharding.json: cannot resume"), "\(error)")
                XCTAssertTrue("\(error)".contains("segment 1"), "\(error)")
            }
            XCTAssertThrowsError(try CheckpointManager.consolidate(checkpoint), field) { error in
                XCTAssertTrue("\(error)".contains("segment 1"), "\(error)")
            }
        }
        // A shard file whose tensors are shorter than the map says: refused before any read.
        try original.write(to: metaURL)
        let shard = checkpoint.appendingPathComponent(ShardingMetadata.shardName(rank: 0, worldSize: 1))
        let shardCount = try XCTUnwrap(SafeTensorsFile(contentsOf: shard).info("exp_avg")?.elementCount)
        var short = SafeTensorsWriter()
        let zeros = [Float](repeating: 0, count: shardCount - 1)
        try zeros.withUnsafeBufferPointer { try short.add("exp_avg", shape: [shardCount - 1], values: $0, as: .F32) }
        try short.write(to: shard)
        XCTAssertThrowsError(try CheckpointManager.consolidate(checkpoint)) { error in
            XCTAssertTrue("\(error)".contains("exp_avg holds \(shardCount - 1) values, not \(shardCount)"), "\(error)")
        }
    }

    /// A checkpoint written under each strategy resumes under another (the sharded ones
    /// under the single-process strategy, the single-process one under FSDP) on the
    /// uninterrupted trajectory.
    func testCheckpointsResumeAcrossStrategies() throws {
        let straight = try makeTrainer(tied: true, output: "straight")
        let expected = losses(try straight.train())
        for (name, plan) in Self.plans {
            let output = "stop-\(name)"
            let first = try makeTrainer(tied: true, strategy: .some(plan), output: output)
            first.onStep = { report in if report.step == 4 { first.stopRequested = true } }
            try first.train()
            let checkpoint = first.checkpoints.latest()
            XCTAssertEqual(checkpoint?.lastPathComponent, "checkpoint-4", name)
            let sharded = FileManager.default.fileExists(atPath: checkpoint!.appendingPathComponent("sharding.json").path)
            XCTAssertEqual(sharded, plan != nil, "\(name): sharded state only from a data-parallel strategy")
            let resumePlan: ParallelPlan? = plan == nil ? ParallelPlan(stage: .fsdp) : nil
            let second = try makeTrainer(tied: true, strategy: .some(resumePlan), output: output) { $0.resumeFromCheckpoint = "latest" }
            let resumed = losses(try second.train())
            assertClose(Array(resumed.suffix(4)), Array(expected.suffix(4)), "\(name) resumed under \(resumePlan == nil ? "single" : "fsdp")")
        }
    }

    /// Every strategy streams its `model.safetensors` (FSDP's a gathered window at a time)
    /// and the moments from the buffers it trains with: the checkpoint's model files are
    /// byte for byte what `ModelFolder.save` writes for the same final parameters.
    func testEveryStrategyStreamsTheBytesModelFolderWrites() throws {
        for tied in [false, true] {
            for (name, plan) in Self.plans {
                let what = "\(name)\(tied ? ", tied" : "")"
                let trainer = try makeTrainer(tied: tied, strategy: .some(plan), output: "bytes-\(name)-\(tied)") { $0.maxSteps = 3 }
                try trainer.train()
                let saved = trainer.checkpoints.outputDirectory.appendingPathComponent("checkpoint-final")
                let reference = directory.appendingPathComponent("reference-\(name)-\(tied)")
                try trainer.strategy.withFullParameters {
                    try ModelFolder.save(trainer.model, config: trainer.modelConfig, to: reference)
                }
                for file in ["model.safetensors", "config.json", "generation_config.json"] {
                    XCTAssertEqual(try Data(contentsOf: saved.appendingPathComponent(file)),
                                   try Data(contentsOf: reference.appendingPathComponent(file)), "\(what): \(file)")
                }
            }
        }
    }
}
