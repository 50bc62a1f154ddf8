import DLLMData
import DLLMJSON
import DLLMModels
import Foundation

/// lm-eval's output files: the results JSON (`results`, `configs`, `versions`, `n-shot`,
/// `higher_is_better`, `n-samples`, `config`) and the `--log_samples` JSONL, one line per document.
public enum ResultsFile {
    /// The results dictionary in lm-eval's shape (`EvaluationTracker.save_results_aggregated`).
    /// `groups` (lm-eval groups such as `mmlu`) get their size-weighted aggregate.
    public static func results(_ evaluations: [TaskEvaluation], groups: [EvalGroup] = [], config: [String: Any]) -> [String: Any] {
        var results: [String: Any] = [:], configs: [String: Any] = [:], versions: [String: Any] = [:]
        var nShot: [String: Any] = [:], higher: [String: Any] = [:], nSamples: [String: Any] = [:]
        for e in evaluations {
            let name = e.task.name
            var metrics: [String: Any] = ["alias": name]
            for f in e.filterNames {
                for m in e.task.metrics {
                    metrics["\(m),\(f)"] = e.metric(m, filter: f)
                    metrics["\(m)_stderr,\(f)"] = e.stderr(m, filter: f) ?? "N/A"
                }
            }
            // Left-truncated requests (context longer than the model's positions), counted.
            if e.truncations > 0 { metrics["dllm_truncated_requests,none"] = e.truncations }
            results[name] = metrics
            var taskConfig: [String: Any] = [
                "task": name, "dataset_path": e.task.datasetPath,
                "doc_to_text": e.task.docToTextSource, "doc_to_target": e.task.docToTargetSource,
                "doc_to_choice": e.task.docToChoiceSource, "target_delimiter": e.task.targetDelimiter,
                "fewshot_delimiter": e.task.fewshotDelimiter, "num_fewshot": e.task.numFewshot, "output_type": e.task.outputType.rawValue,
                "metric_list": e.task.metrics.map { m -> [String: Any] in
                    ["metric": m, "aggregation": aggregation(m), "higher_is_better": higherIsBetter(m)]
                },
                "metadata": ["version": e.task.version],
                "dllm_split_read": e.task.split, "dllm_mirrors": e.task.reference,
            ]
            taskConfig[e.task.lmEvalSplit == "test" ? "test_split" : "validation_split"] = e.task.lmEvalSplit
            if let dn = e.task.datasetName { taskConfig["dataset_name"] = dn }
            if let g = e.task.generation, let outcome = e.generation { taskConfig.merge(generationConfig(g, outcome)) { $1 } }
            configs[name] = taskConfig
            versions[name] = e.task.version
            nShot[name] = e.task.numFewshot
            higher[name] = Dictionary(uniqueKeysWithValues: e.task.metrics.map { ($0, higherIsBetter($0)) })
            nSamples[name] = ["original": e.originalCount, "effective": e.documents.count]
        }
        var groupSubtasks = Dictionary(uniqueKeysWithValues: evaluations.map { ($0.task.name, [String]()) })
        for group in groups {
            var metrics: [String: Any] = ["alias": group.alias]
            for m in ["acc", "acc_norm"] {
                guard let (value, stderr, _) = group.aggregate(m, over: evaluations) else { continue }
                metrics["\(m),none"] = value
                metrics["\(m)_stderr,none"] = stderr ?? "N/A"
            }
            results[group.name] = metrics
            groupSubtasks[group.name] = group.tasks.filter { name in evaluations.contains { $0.task.name == name } }
            versions[group.name] = group.version
        }
        return ["results": results, "group_subtasks": groupSubtasks,
                "configs": configs, "versions": versions, "n-shot": nShot, "higher_is_better": higher,
                "n-samples": nSamples, "config": config]
    }

    static func higherIsBetter(_ metric: String) -> Bool { metric != "perplexity" && !RollingMetrics.names.contains(metric) }

    /// lm-eval's aggregation name of a metric.
    static func aggregation(_ metric: String) -> String {
        switch metric {
        case "perplexity": return "perplexity"
        case "word_perplexity", "byte_perplexity": return "weighted_perplexity"
        case "bits_per_byte": return "bits_per_byte"
        default: return "mean"
        }
    }

    /// One `--log_samples` line per document (lm-eval's sample record: `doc_id`, `doc`,
    /// `target`, `arguments`, `resps`, `filtered_resps`, `filter`, `metrics`, and the metrics).
    public static func samples(_ e: TaskEvaluation) -> [[String: Any]] {
        if let outcome = e.generation { return generationSamples(e, outcome) }
        return e.documents.indices.map { i in
            let doc = e.documents[i]
            if e.task.outputType == .loglikelihoodRolling { return rollingSample(e, i) }
            let arguments = e.requests[i].map { [$0.context, $0.continuation] }
            let resps = e.answers[i].map { [[String(describing: $0.logLikelihood), $0.isGreedy ? "True" : "False"]] }
            let filtered = e.answers[i].map { [String(describing: $0.logLikelihood), $0.isGreedy ? "True" : "False"] }
            var line: [String: Any] = [
                "doc_id": doc.index, "doc": jsonObject(.object(doc.fields)),
                "target": e.task.outputType == .loglikelihood ? doc.choices[0] as Any : doc.gold as Any,
                "arguments": arguments, "resps": resps, "filtered_resps": filtered, "filter": "none",
                "metrics": e.task.metrics,
                "loglikelihoods": e.answers[i].map(\.logLikelihood), "is_greedy": e.answers[i].map(\.isGreedy),
            ]
            for m in e.task.metrics { line[m] = e.documentValue(m, i) }
            return line
        }
    }

    /// A `loglikelihood_rolling` sample: `arguments` `[[text]]`, the document's log-likelihood as
    /// `resps`, each metric as lm-eval's (log-likelihood, weight) pair, and the windows' own values.
    static func rollingSample(_ e: TaskEvaluation, _ i: Int) -> [String: Any] {
        let text = e.documents[i].choices[0]
        let ll = e.rollingLogLikelihood(i)
        var line: [String: Any] = [
            "doc_id": e.documents[i].index, "doc": jsonObject(.object(e.documents[i].fields)), "target": text,
            "arguments": [[text]], "resps": [[String(describing: ll)]], "filtered_resps": [String(describing: ll)],
            "filter": "none", "metrics": e.task.metrics, "loglikelihoods": [ll],
            "window_loglikelihoods": e.answers[i].map(\.logLikelihood), "window_tokens": e.encoded[i].map(\.continuation.count),
        ]
        for m in e.task.metrics { line[m] = [ll, RollingMetrics.weight(m, text: text)] as [Any] }
        return line
    }

    public static func jsonObject(_ value: DataValue) -> Any {
        switch value {
        case .null: return NSNull()
        case let .bool(b): return b
        case let .int(i): return i
        case let .double(d): return d
        case let .string(s): return s
        case let .list(l): return l.map(jsonObject)
        case let .object(o): return o.mapValues(jsonObject)
        }
    }

    /// Writes `object` as indented JSON with sorted keys (`json.dumps(indent=2, sort_keys=True)`,
    /// as lm-eval's results files), through DLLMJSON.
    public static func writeJSON(_ object: Any, to path: String) throws {
        guard let value = JSONValue(foundationObject: object) else {
            throw EvalError.cannotWrite(path: path, reason: "a value JSON cannot represent")
        }
        do {
            try Data(JSONWriter.bytes(value, style: .indented(2), sortedKeys: true) + [0x0A]).write(to: URL(fileURLWithPath: path))
        } catch {
            throw EvalError.cannotWrite(path: path, reason: error.localizedDescription)
        }
    }

    /// Writes one compact JSON object per line, through DLLMJSON.
    public static func writeJSONLines(_ objects: [[String: Any]], to path: String) throws {
        var bytes: [UInt8] = []
        for object in objects {
            guard let value = JSONValue(foundationObject: object) else {
                throw EvalError.cannotWrite(path: path, reason: "a value JSON cannot represent")
            }
            JSONWriter.append(value, to: &bytes, style: .compact, sortedKeys: true)
            bytes.append(0x0A)
        }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            throw EvalError.cannotWrite(path: path, reason: error.localizedDescription)
        }
    }

    /// lm-eval's "Groups" table rows: each group's aggregated metrics.
    public static func groupRows(_ groups: [EvalGroup], _ evaluations: [TaskEvaluation]) -> [ResultsTable.Row] {
        groups.flatMap { group in
            ["acc", "acc_norm"].compactMap { m -> ResultsTable.Row? in
                guard let (value, stderr, _) = group.aggregate(m, over: evaluations) else { return nil }
                return ResultsTable.Row(task: group.name, version: ResultsTable.version(group.version), metric: m,
                                        value: value, stderr: stderr)
            }
        }
    }

    /// The table rows of `evaluations`, acc then acc_norm per task (lm-eval sorts metric keys).
    public static func tableRows(_ evaluations: [TaskEvaluation]) -> [ResultsTable.Row] {
        // lm-eval lists tasks by name.
        evaluations.sorted { $0.task.name < $1.task.name }.flatMap { e in
            // lm-eval's make_table sorts the "metric,filter" keys.
            e.task.metrics.flatMap { m in e.filterNames.map { (m, $0) } }.sorted { "\($0.0),\($0.1)" < "\($1.0),\($1.1)" }.map { m, f in
                ResultsTable.Row(task: e.task.name, version: ResultsTable.version(e.task.version), filter: f, nShot: String(e.task.numFewshot),
                                 metric: m, higherIsBetter: higherIsBetter(m) ? "↑" : "↓", value: e.metric(m, filter: f),
                                 stderr: e.stderr(m, filter: f))
            }
        }
    }
}

extension ResultsFile {
    /// A `generate_until` task's `generation_kwargs` and `filter_list` as lm-eval's `configs` report them.
    static func generationConfig(_ settings: GenerationTaskSettings, _ outcome: GenerationOutcome) -> [String: Any] {
        let kwargs = outcome.requests.first?.kwargs ?? settings.kwargs
        return [
            "generation_kwargs": ["until": kwargs.until, "max_gen_toks": kwargs.maxGenToks, "do_sample": false, "temperature": 0.0],
            "filter_list": settings.filters.map { f -> [String: Any] in
                ["name": f.name, "filter": [["function": "regex", "regex_pattern": f.pattern, "group_select": f.groupSelect],
                                            ["function": "take_first"]]]
            },
        ]
    }

    /// lm-eval's sample records of a `generate_until` task: one line per (document, filter), with
    /// `arguments` [[context, gen_kwargs]], `resps` [[response]], `filtered_resps` [answer] and
    /// `exact_match`; `dllm_generated_ids` and `dllm_context_truncated` besides.
    static func generationSamples(_ e: TaskEvaluation, _ outcome: GenerationOutcome) -> [[String: Any]] {
        e.documents.indices.flatMap { i -> [[String: Any]] in
            let doc = e.documents[i]
            let request = outcome.requests[i]
            let kwargs: [String: Any] = ["until": request.kwargs.until, "max_gen_toks": request.kwargs.maxGenToks,
                                         "do_sample": false, "temperature": 0.0]
            return e.filterNames.map { f -> [String: Any] in
                var line: [String: Any] = [
                    "doc_id": doc.index, "doc": jsonObject(.object(doc.fields)), "target": doc.choices[0],
                    "arguments": [[request.context, kwargs]], "resps": [[outcome.responses[i]]],
                    "filtered_resps": [outcome.filtered[f]?[i] ?? outcome.responses[i]], "filter": f, "metrics": e.task.metrics,
                    "dllm_generated_ids": outcome.generatedTokens[i].map(Int.init), "dllm_context_truncated": outcome.encoded[i].truncated,
                ]
                for m in e.task.metrics { line[m] = e.documentValue(m, i, filter: f) }
                return line
            }
        }
    }
}
