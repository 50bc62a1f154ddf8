import DLLMData
@testable import DLLMEval
import DLLMSampling
import DLLMTokenizers
import Foundation
import XCTest

/// `generate_until` and `--apply_chat_template` against the real lm-eval package's HF backend
/// (Fixtures/generate_generation_fixtures.py): the same truncated contexts, generated token ids,
/// cut responses, filtered answers and exact-match metrics; chat-rendered loglikelihood requests
/// with the same texts, ids, log-likelihoods (1e-4) and acc. And diffusion generation that does
/// not depend on the batch size.
final class GenerateUntilParityTests: XCTestCase {
    static let fixtures = LMEvalParityTests.fixtures

    struct Reference: Decodable {
        struct GeneratedDocument: Decodable {
            var doc_id: Int
            var context: String
            var context_ids: [Int32]
            var until: [String]
            var max_gen_toks: Int
            var generated_ids: [Int32]
            var response: String
            var target: String
            var filtered: [String: String]
            var exact_match: [String: Double]
        }
        struct Run: Decodable {
            var apply_chat_template: Bool
            var documents: [GeneratedDocument]
            var metrics: [String: JSONNumberOrString]
        }
        /// One loglikelihood request as the lm-eval fixtures record it.
        typealias Request = LMEvalParityTests.Reference.Request
        struct ChatDocument: Decodable {
            var doc_id: Int
            var acc: Double
            var requests: [Request]
        }
        struct ChatTask: Decodable {
            var documents: [ChatDocument]
            var metrics: [String: JSONNumberOrString]
        }
        var max_length: Int
        var chat_template: String
        var eos_text: String
        struct Multiturn: Decodable {
            var system_instruction: String
            var num_fewshot: Int
            var tasks: [String: ChatTask]
        }
        var runs: [String: Run]
        var chat_loglikelihood: [String: ChatTask]
        var chat_multiturn: Multiturn
    }

    /// lm-eval writes numbers, and "N/A" or the task name for some keys.
    enum JSONNumberOrString: Decodable {
        case number(Double), string(String)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .string(try c.decode(String.self)) }
        }
        var number: Double? { if case let .number(d) = self { return d } else { return nil } }
    }

    static func loadReference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixtures.appendingPathComponent("generation_reference.json")))
    }

    static var location: TaskDataLocation { TaskDataLocation(root: fixtures.appendingPathComponent("hf_datasets").path) }

    /// The fixture's GSM8K: lm-eval's gsm8k yaml with `max_gen_toks` 24.
    static func gsm8k() -> EvalTask {
        var task = EvalTask.gsm8k
        task.generation!.kwargs.maxGenToks = 24
        return task
    }

    func checkRun(_ run: Reference.Run, _ e: TaskEvaluation, eosID: Int32?, label: String) throws {
        let outcome = try XCTUnwrap(e.generation)
        XCTAssertEqual(run.documents.count, e.documents.count)
        for (i, doc) in run.documents.enumerated() {
            let where_ = "\(label) document \(doc.doc_id)"
            XCTAssertEqual(e.documents[i].index, doc.doc_id)
            XCTAssertEqual(outcome.requests[i].context, doc.context, where_)
            XCTAssertEqual(outcome.requests[i].kwargs.until, doc.until, where_)
            XCTAssertEqual(outcome.requests[i].kwargs.maxGenToks, doc.max_gen_toks, where_)
            XCTAssertEqual(outcome.encoded[i].context, doc.context_ids, where_)
            XCTAssertTrue(outcome.encoded[i].truncated, where_)  // 1600+ tokens into 512 − max_gen_toks
            var expected = doc.generated_ids
            if let eos = eosID, let end = expected.firstIndex(of: eos) { expected = Array(expected[..<end]) }
            XCTAssertEqual(outcome.generatedTokens[i], expected, where_)
            XCTAssertEqual(outcome.responses[i], doc.response, where_)
            XCTAssertEqual(e.documents[i].choices[0], doc.target, where_)
            for (filter, answer) in doc.filtered {
                XCTAssertEqual(outcome.filtered[filter]?[i], answer, "\(where_) \(filter)")
                XCTAssertEqual(e.documentValue("exact_match", i, filter: filter), doc.exact_match[filter], "\(where_) \(filter)")
            }
        }
        for filter in ["strict-match", "flexible-extract"] {
            XCTAssertEqual(e.metric("exact_match", filter: filter), run.metrics["exact_match,\(filter)"]?.number, "\(label) \(filter)")
            XCTAssertEqual(try XCTUnwrap(e.stderr("exact_match", filter: filter)),
                           try XCTUnwrap(run.metrics["exact_match_stderr,\(filter)"]?.number), accuracy: 1e-12)
        }
    }

    func testGSM8KGreedyGenerationMatchesLMEval() throws {
        let reference = try Self.loadReference()
        let generator = try TextGenerator(folder: Self.fixtures.appendingPathComponent("tiny_llama").path, mode: .ar)
        XCTAssertEqual(generator.model.maxPositions, reference.max_length)
        let task = Self.gsm8k()
        let docs = try Self.location.documents(of: task, limit: nil).documents
        XCTAssertEqual(docs.count, 4)
        let until = ARUntilGenerator(model: generator.model, tokenizer: generator.tokenizer, eosID: generator.eosID)
        let chat = ChatRequestRenderer { try ChatTemplate(source: reference.chat_template).render(messages: $0, addGenerationPrompt: true) }
        let stop = try XCTUnwrap(reference.runs["gen_kwargs"]?.documents.first?.until.first)
        for (label, genKwargs, useChat) in [("greedy", nil, false), ("gen_kwargs", "until='\(stop)',max_gen_toks=16", false),
                                            ("chat", nil, true)] as [(String, String?, Bool)] {
            let run = try XCTUnwrap(reference.runs[label])
            XCTAssertEqual(run.apply_chat_template, useChat)
            var (t, d) = (task, docs)
            if useChat { (t, d) = try chat.apply(to: task, documents: docs) }
            let evaluator = GenerationEvaluator(generator: until, tokenizer: generator.tokenizer, genKwargs: genKwargs)
            XCTAssertEqual(evaluator.eosText, reference.eos_text)
            let e = try evaluator.evaluate(t, documents: d, originalCount: docs.count, batchSize: 1)
            try checkRun(run, e, eosID: generator.eosID, label: label)
            // Batched generation (right-padded prompts, rows stopping on their own) gives the same answers.
            let batched = try evaluator.evaluate(t, documents: d, originalCount: docs.count, batchSize: 3)
            XCTAssertEqual(batched.generation?.responses, e.generation?.responses, label)
        }
    }

    /// Chat-rendered loglikelihood requests of `tasks` (`shots` examples) against lm-eval's.
    func checkChatRequests(_ tasks: [String: Reference.ChatTask], chat: ChatRequestRenderer, shots: Int) throws {
        let generator = try TextGenerator(folder: Self.fixtures.appendingPathComponent("tiny_llama").path, mode: .ar)
        let tokenizer = generator.tokenizer
        let evaluator = Evaluator(scorer: ARLoglikelihoodScorer(model: generator.model),
                                  encoder: RequestEncoder(tokenizer: tokenizer, prefixTokenID: tokenizer.bosTokenID ?? tokenizer.eosTokenID))
        for (name, expected) in tasks {
            let task = try EvalTask.named(name)
            let plain = try Self.location.documents(of: task, limit: 3).documents
            let pool = try Self.location.fewShotPool(of: task, evaluated: plain)
            let (chatTask, docs) = try chat.apply(to: task, documents: try task.withFewShot(plain, pool: pool, count: shots))
            let e = evaluator.evaluate(chatTask, documents: docs, originalCount: docs.count, batchSize: 2)
            XCTAssertEqual(e.requests.count, expected.documents.count, name)
            for (i, doc) in expected.documents.enumerated() {
                XCTAssertEqual(e.requests[i].count, doc.requests.count, name)
                for (j, r) in doc.requests.enumerated() {
                    let where_ = "\(name) \(shots)-shot document \(doc.doc_id) request \(j)"
                    XCTAssertEqual(e.requests[i][j].context, r.context, where_)
                    XCTAssertEqual(e.requests[i][j].continuation, r.continuation, where_)
                    XCTAssertEqual(e.encoded[i][j].context, r.context_ids, where_)
                    XCTAssertEqual(e.encoded[i][j].continuation, r.continuation_ids, where_)
                    XCTAssertEqual(e.answers[i][j].logLikelihood, r.loglikelihood, accuracy: 1e-4, where_)
                    XCTAssertEqual(e.answers[i][j].isGreedy, r.is_greedy, where_)
                }
                XCTAssertEqual(e.documentValue("acc", i), doc.acc, "\(name) document \(doc.doc_id)")
            }
            XCTAssertEqual(e.acc, expected.metrics["acc,none"]?.number, name)
        }
    }

    func testChatTemplateLoglikelihoodRequestsMatchLMEval() throws {
        let reference = try Self.loadReference()
        let template = try ChatTemplate(source: reference.chat_template)
        XCTAssertEqual(Set(reference.chat_loglikelihood.keys), ["arc_easy", "winogrande", "mmlu_anatomy"])
        try checkChatRequests(reference.chat_loglikelihood,
                              chat: ChatRequestRenderer { try template.render(messages: $0, addGenerationPrompt: true) }, shots: 0)
    }

    /// `--fewshot_as_multiturn` with `--system_instruction`: MMLU 2-shot, each example a
    /// user/assistant pair, the instruction and the description in the system message.
    func testFewshotAsMultiturnMatchesLMEval() throws {
        let reference = try Self.loadReference()
        let template = try ChatTemplate(source: reference.chat_template)
        let multiturn = reference.chat_multiturn
        XCTAssertEqual(Set(multiturn.tasks.keys), ["mmlu_anatomy"])
        let chat = ChatRequestRenderer(systemInstruction: multiturn.system_instruction, fewshotAsMultiturn: true) {
            try template.render(messages: $0, addGenerationPrompt: true)
        }
        try checkChatRequests(multiturn.tasks, chat: chat, shots: multiturn.num_fewshot)
    }

    /// LLaDA-style generation of the same documents at batch 1 and 3 (and in another order):
    /// identical ids, because each document's noise is keyed by (seed, task, document).
    func testDiffusionGenerationDoesNotDependOnBatchSize() throws {
        let generator = try TextGenerator(folder: Self.fixtures.appendingPathComponent("tiny_llada").path)
        let maskID = try XCTUnwrap(generator.maskID)
        var settings = try EvalModelArguments.parse(model: "llada", modelArgs: "pretrained=X,steps=8,gen_length=16,block_length=8,temperature=0.7",
                                                    batchSize: nil).generation
        XCTAssertEqual(settings.steps, 8)
        XCTAssertEqual(settings.genLength, 16)
        XCTAssertEqual(settings.blockLength, 8)
        let task = Self.gsm8k()
        let docs = try Self.location.documents(of: task, limit: nil).documents
        func run(_ docs: [EvalDocument], batch: Int, seed: UInt64 = 3) throws -> [Int: [Int32]] {
            let sampler = try MDLMSampler(model: generator.model, maskID: maskID, eosID: generator.eosID)
            // 96 positions: contexts left-truncated to their last 80 tokens keep the test quick.
            let until = DiffusionUntilGenerator(sampler: sampler, settings: settings, cfg: 0, seed: seed, maxLength: 96)
            let e = try GenerationEvaluator(generator: until, tokenizer: generator.tokenizer)
                .evaluate(task, documents: docs, originalCount: docs.count, batchSize: batch)
            let outcome = try XCTUnwrap(e.generation)
            XCTAssertTrue(outcome.encoded.allSatisfy { $0.context.count == 80 && $0.truncated })
            return Dictionary(uniqueKeysWithValues: zip(docs.map(\.index), outcome.generatedTokens))
        }
        let one = try run(docs, batch: 1)
        XCTAssertTrue(one.values.contains { !$0.isEmpty })
        XCTAssertEqual(try run(docs, batch: 3), one)
        XCTAssertEqual(try run(docs.reversed(), batch: 3), one)
        XCTAssertNotEqual(try run(docs, batch: 1, seed: 4), one)  // the noise does reach the tokens
        settings.remasking = .random
        XCTAssertEqual(try run(docs, batch: 2), try run(docs, batch: 1))
    }

    func testGenKwargsParsing() throws {
        let base = GenerationKwargs(until: ["Question:"])
        XCTAssertEqual(try base.overridden(by: nil), base)
        let k = try base.overridden(by: "until=\\n\\n,max_new_tokens=9,do_sample=False,temperature=0")
        XCTAssertEqual(k.until, ["\\n\\n"])
        XCTAssertEqual(k.maxGenToks, 9)
        XCTAssertEqual(try base.overridden(by: "max_new_tokens=9,max_gen_toks=5").maxGenToks, 5)  // max_gen_toks first
        for (bad, mentions) in [("do_sample=True", "do_sample"), ("temperature=0.7", "temperature"), ("top_p=0.9", "top_p"),
                                ("max_gen_toks=0", "max_gen_toks"), ("until", "until")] {
            XCTAssertThrowsError(try base.overridden(by: bad)) { XCTAssertTrue(String(describing: $0).contains(mentions), "\($0)") }
        }
    }
}
