/// # DLLMJSON
///
/// The package's one JSON implementation: every target that reads or writes JSON text
/// (safetensors headers and shard indexes, `config.json` and `generation_config.json`,
/// `tokenizer.json` and `tokenizer_config.json`, JSON and JSON Lines datasets, the Arrow
/// dataset folder's metadata, chat-template contexts, generation requests and results,
/// telemetry events and the collector's reports) goes through it. It owns:
///
/// - ``JSONValue``: an ordered tree (object members in file order) that keeps integers
///   (`Int64`, or the exact digits when larger) apart from doubles;
/// - ``JSONParser``: a strict RFC 8259 reader over UTF-8 bytes with a depth limit,
///   duplicate-key policy, UTF-8 and surrogate checks, and numbers rounded exactly as
///   `strtod` rounds them; errors are ``JSONError`` values located by line, column,
///   byte offset and file;
/// - ``JSONWriter``: compact output as `serde_json` writes it and indented output as
///   Python's `json.dumps(indent:)` writes it (what `transformers` uses for `config.json`);
/// - ``JSONValueDecoder``: `Decodable` types (the model configurations) decoded from an
///   already parsed value, so a file is parsed once;
/// - ``JSONValueEncoder``: `Encodable` types to a value or text, the writing half of the
///   bridge. The package's own state files that a `Codable` struct both writes and reads
///   (`trainer_state.json`, `training_args.json`, `sharding.json`, the collector's
///   `summary.json` and `runs.json`, token-shard manifests, data-source positions, the
///   launcher's rank records, the fetch marker) go through the pair; files written earlier
///   by Foundation's `JSONEncoder` still load (only whitespace and `\/` differ);
/// - ``JSONObjectWriter``: flat objects streamed into a reused buffer (telemetry's hot path).
///
/// Why not Foundation's `JSONSerialization`/`JSONDecoder`: they lose key order, drop a
/// leading U+FEFF inside strings, merge keys that are canonically equivalent, silently
/// keep the last of duplicate keys, and turn large integers into doubles.
///
/// It imports nothing but the standard library. The telemetry collector's per-message
/// scanner (`DLLMTelemetry/JSONScanner.swift`) stays separate: it returns byte ranges
/// without building a tree, and `docs/benchmarks.md` records what a tree costs on that path.
public enum DLLMJSON {}
