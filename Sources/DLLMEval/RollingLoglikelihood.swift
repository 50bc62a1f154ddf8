import DLLMData
import Foundation

/// lm-eval's rolling windows of a document for `loglikelihood_rolling`: mirrors
/// `lm_eval.utils.get_rolling_token_windows(token_list, prefix_token, max_seq_len, context_len=1)`
/// composed with `make_disjoint_window`, as `HFLM.loglikelihood_rolling` calls them.
///
/// The first window predicts the first `min(maxLength, n)` tokens after `[prefix]`; every later
/// window predicts the next (up to) `maxLength` tokens and its context is what precedes them in
/// the last `maxLength + 1` tokens before the window's end, so each request is at most
/// `maxLength + 1` tokens and every token of the document is predicted exactly once.
/// An empty document has no windows (its log-likelihood is 0, as lm-eval's sum of nothing).
public func rollingTokenWindows(_ tokens: [Int32], prefix: [Int32], maxLength: Int) -> [EncodedRequest] {
    precondition(maxLength >= 1, "rolling windows need maxLength ≥ 1")
    guard !tokens.isEmpty else { return [] }
    let first = min(maxLength, tokens.count)
    var windows = [EncodedRequest(context: prefix, continuation: Array(tokens[0..<first]))]
    var predicted = first
    while predicted < tokens.count {
        let count = min(tokens.count - predicted, maxLength)
        let end = predicted + count
        // Input window tokens[end − maxLength − 1 ..< end − 1]; disjoint: its first maxLength − (count − 1).
        windows.append(EncodedRequest(context: Array(tokens[(end - maxLength - 1)..<(end - count)]),
                                      continuation: Array(tokens[(end - count)..<end])))
        predicted = end
    }
    return windows
}

extension RequestEncoder {
    /// The rolling windows of `text` (lm-eval `HFLM.loglikelihood_rolling`): `tok_encode(text)` with
    /// the tokenizer's default special tokens, cut by `rollingTokenWindows` after `prefix_token_id`.
    public func rollingWindows(_ text: String, maxLength: Int) -> [EncodedRequest] {
        rollingTokenWindows(tokenizer.encode(text, addSpecialTokens: true), prefix: prefixTokenID.map { [$0] } ?? [],
                            maxLength: maxLength)
    }
}

/// lm-eval's perplexity metrics of `loglikelihood_rolling` tasks (`ConfigurableTask.process_results`
/// and `lm_eval/api/metrics.py`): each document contributes (log-likelihood, weight) with the weight
/// its word count (`word_perplexity`) or UTF-8 byte count (`byte_perplexity`, `bits_per_byte`);
/// `weighted_mean = Σ ll / Σ weight`, `weighted_perplexity = exp(−weighted_mean)`,
/// `bits_per_byte = −weighted_mean / ln 2`.
public enum RollingMetrics {
    public static let names = ["word_perplexity", "byte_perplexity", "bits_per_byte"]

    /// `len(re.split(r"\s+", text))`: one more than the runs of whitespace (an empty text, and
    /// whitespace at either end, count as empty words, as in Python).
    public static func wordCount(_ text: String) -> Int {
        var runs = 0
        var inRun = false
        for c in text.unicodeScalars {
            let space = isPythonWhitespace(c)
            if space && !inRun { runs += 1 }
            inRun = space
        }
        return runs + 1
    }

    /// `len(text.encode("utf-8"))`.
    public static func byteCount(_ text: String) -> Int { text.utf8.count }

    public static func weight(_ metric: String, text: String) -> Int {
        metric == "word_perplexity" ? wordCount(text) : byteCount(text)
    }

    /// The aggregate of `metric` over documents' (log-likelihood, text), summed left to right as Python's `sum`.
    public static func aggregate(_ metric: String, logLikelihoods: [Double], texts: [String]) -> Double {
        var total = 0.0
        for ll in logLikelihoods { total += ll }
        var weights = 0
        for text in texts { weights += weight(metric, text: text) }
        let mean = total / Double(weights)
        switch metric {
        case "word_perplexity", "byte_perplexity": return Foundation.exp(-mean)
        case "bits_per_byte": return -mean / Foundation.log(2)
        default: preconditionFailure("\(metric) is not a loglikelihood_rolling metric")
        }
    }
}

extension EvalTask {
    /// The `--tasks` spelling of a perplexity task over a user's documents: `perplexity:PATH`.
    public static let perplexityPrefix = "perplexity:"

    /// A `loglikelihood_rolling` task over the documents of a file, with wikitext's metrics
    /// (mirrors lm-eval `lm_eval/tasks/wikitext/wikitext.yaml`: `doc_to_text: ""`, the document as
    /// `doc_to_target`, word_perplexity, byte_perplexity, bits_per_byte; no detokenizer). A `.jsonl`
    /// file holds one document per line in its `text` field; any other file is plain text with one
    /// document per non-blank line (as `wiki_demo.txt` of `dllm data fetch llamafactory`).
    /// The task is named `perplexity_<file name without extension>`.
    public static func perplexityFile(_ path: String) -> EvalTask {
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let name = "perplexity_" + stem
        return EvalTask(
            name: name, version: 2.0, datasetPath: path, datasetName: nil, lmEvalSplit: "test", folder: "", split: "",
            docToTextSource: "", docToTargetSource: "{{text}}", docToChoiceSource: "", outputType: .loglikelihoodRolling,
            metrics: RollingMetrics.names, textFile: path,
            reference: "lm_eval/tasks/wikitext/wikitext.yaml (output_type loglikelihood_rolling) on a local file",
            makeDocument: { row, index in
                let text = try DocumentFields(task: name, row: row, index: index).string("text")
                return EvalDocument(index: index, context: "", choices: [text], gold: 0, fields: ["text": .string(text)])
            })
    }

    /// The documents of a `perplexityFile` task's file as rows with a `text` field.
    static func loadTextDocuments(path: String, task: String) throws -> Dataset {
        guard FileManager.default.fileExists(atPath: path) else {
            throw EvalError.taskDataMissing(task: task, path: path,
                                            fetchCommand: "dllm data fetch llamafactory` (wiki_demo.txt, c4_demo.jsonl) or give an existing file to `--tasks perplexity:PATH")
        }
        if path.hasSuffix(".jsonl") { return try JSONLinesLoader.load(path: path) }
        let bytes: Data
        do { bytes = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw EvalError.badDocument(task: task, row: 0, field: "text", detail: "cannot read \(path): \(error.localizedDescription)")
        }
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw EvalError.badDocument(task: task, row: 0, field: "text", detail: "\(path) is not UTF-8 text")
        }
        var rows: [DataRow] = []
        // Split on the scalar "\n" (a Character split would keep "\r\n" as one character), dropping a "\r" before it.
        for (n, line) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let scalars = line.last == "\r" ? line.dropLast() : line
            let content = String(String.UnicodeScalarView(scalars))
            guard !pythonStrip(content).isEmpty else { continue }
            rows.append(DataRow(["text": .string(content)], origin: RowOrigin(file: path, line: n + 1, row: rows.count)))
        }
        return Dataset(rows: rows, source: path)
    }
}
