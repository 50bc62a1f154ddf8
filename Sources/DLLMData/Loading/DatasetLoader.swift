import Foundation

/// Resolves dataset specs to splits of rows: the role of dLLM's `load_pt_dataset` /
/// `load_sft_dataset` for local data.
///
/// Paths may name:
/// - a file: `.jsonl`/`.ndjson` (JSON Lines), `.json` (array, columns, or `field:KEY`),
///   `.txt` (text; `sample_by:line|paragraph|document`), `.csv`, `.arrow` (Arrow IPC stream);
///   the rows form split `train`;
/// - a `datasets.save_to_disk` folder (`state.json`, or `dataset_dict.json` with split folders);
/// - a folder of such files (hidden files and `datasets`/`dllm prepare` metadata files such as
///   `dataset_info.json` and `manifest.json` are skipped): a file whose name starts with a split keyword belongs to that split
///   (`train`/`training` → train, `validation`/`valid`/`val`/`dev` → validation,
///   `test`/`testing`/`eval` → test, as `datasets`' data-files patterns); others join `train`.
///
/// A relative path that does not exist is looked up under `$BASE_DATASETS_DIR` when set
/// (dLLM's `resolve_with_base_env`).
///
/// Split limits follow dLLM's streaming `_truncate_iterabledatasetdict`: for a source with one
/// split, the requested splits are carved from it *disjointly*: non-train splits first (in
/// spec order, e.g. `test` = the first 1000 rows), then `train` from the rows after them. dLLM's
/// non-streaming path instead takes each split's first rows independently, so its train and test
/// overlap; the disjoint version is kept here because a held-out split must not be trained on.
/// For a source with several splits each named split is truncated to its first rows, a limit on
/// a split the source lacks is an error, and splits without limits are kept whole. Several specs
/// joined with `+` are concatenated split by split (`_merge_datasetdicts`).
public enum DatasetLoader {
    /// Options understood in a spec's bracket besides split limits.
    public static let knownOptions = ["field", "sample_by"]

    public static func load(_ specString: String) throws -> DatasetDict {
        let specs = try DatasetSpec.parseList(specString)
        var merged = DatasetDict(source: "")
        for spec in specs { merged.merge(try load(spec: spec)) }
        merged.source = specString
        return merged
    }

    public static func load(spec: DatasetSpec) throws -> DatasetDict {
        for (key, value) in spec.options where !knownOptions.contains(key) {
            throw DataError.unknownOption(option: key, value: value, spec: spec.description, known: knownOptions)
        }
        let path = try resolve(spec.path)
        let dict = try loadPath(path, options: spec.options)
        return try applyLimits(dict, limits: spec.limits, source: spec.path)
    }

    /// dLLM's `resolve_with_base_env(path, "BASE_DATASETS_DIR")`.
    static func resolve(_ path: String) throws -> String {
        let fm = FileManager.default
        if path.hasPrefix("/") || fm.fileExists(atPath: path) { return path }
        if let base = ProcessInfo.processInfo.environment["BASE_DATASETS_DIR"]?.trimmingCharacters(in: .whitespaces),
           !base.isEmpty {
            let candidate = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/" + path
            if fm.fileExists(atPath: candidate) { return candidate }
        }
        throw DataError.notFound(path: path)
    }

    /// Loads every split of a file or folder, without limits.
    public static func loadPath(_ path: String, options: [String: String] = [:]) throws -> DatasetDict {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError.notFound(path: path)
        }
        if isDirectory.boolValue {
            if ArrowDatasetFolder.isDatasetFolder(path) { return try ArrowDatasetFolder.load(path: path) }
            return try loadFolderOfFiles(path, options: options)
        }
        return DatasetDict([("train", try loadFile(path, options: options))], source: path)
    }

    /// The loader for one file, chosen by extension.
    public static func loadFile(_ path: String, options: [String: String] = [:]) throws -> Dataset {
        let ext = (path as NSString).pathExtension.lowercased()
        switch ext {
        case "jsonl", "ndjson":
            return try JSONLinesLoader.load(path: path)
        case "json":
            return try JSONLoader.load(path: path, field: options["field"])
        case "txt", "text":
            var sampling = TextSampling.line
            if let raw = options["sample_by"] {
                guard let s = TextSampling(rawValue: raw) else {
                    throw DataError.invalidParameter(
                        name: "sample_by", value: raw,
                        detail: "use one of \(TextSampling.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sampling = s
            }
            return try TextLoader.load(path: path, sampling: sampling)
        case "csv":
            return try CSVLoader.load(path: path)
        case "arrow":
            return try ArrowStreamReader.read(path: path).dataset(source: path)
        default:
            throw DataError.unsupportedFormat(path: path, detail: "unknown extension '.\(ext)'")
        }
    }

    static let splitKeywords: [(keyword: String, split: String)] = [
        ("training", "train"), ("train", "train"),
        ("validation", "validation"), ("valid", "validation"), ("val", "validation"), ("dev", "validation"),
        ("testing", "test"), ("test", "test"), ("eval", "test"),
    ]

    static func splitName(forFile name: String) -> String {
        let stem = ((name as NSString).deletingPathExtension as NSString).lastPathComponent.lowercased()
        for (keyword, split) in splitKeywords where stem == keyword || stem.hasPrefix(keyword + "-")
            || stem.hasPrefix(keyword + "_") || stem.hasPrefix(keyword + ".") {
            return split
        }
        return "train"
    }

    static func loadFolderOfFiles(_ path: String, options: [String: String]) throws -> DatasetDict {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        } catch {
            throw DataError.cannotRead(path: path, reason: error.localizedDescription)
        }
        let supported = ["jsonl", "ndjson", "json", "txt", "text", "csv", "arrow"]
        var dict = DatasetDict(source: path)
        var found = false
        let metadata: Set<String> = ["dataset_info.json", "dataset_dict.json", "state.json", "manifest.json"]
        for name in names where !name.hasPrefix(".") && !metadata.contains(name)
            && supported.contains((name as NSString).pathExtension.lowercased()) {
            found = true
            let dataset = try loadFile(path + "/" + name, options: options)
            let split = splitName(forFile: name)
            dict[split] = dict[split].map { $0.appending(dataset) } ?? dataset
        }
        guard found else {
            throw DataError.unsupportedFormat(path: path, detail: "the folder holds no dataset files and no state.json/dataset_dict.json")
        }
        return dict
    }

    /// Applies `[split:rows,...]` limits (see the type's documentation for the semantics).
    public static func applyLimits(_ dict: DatasetDict, limits: [SplitLimit], source: String) throws -> DatasetDict {
        if limits.isEmpty { return dict }
        if dict.splitNames.count == 1 {
            let base = dict[dict.splitNames[0]]!
            var result = DatasetDict(source: dict.source)
            var cursor = 0
            let ordered = limits.filter { $0.split != "train" } + limits.filter { $0.split == "train" }
            var carved: [String: Dataset] = [:]
            for limit in ordered {
                carved[limit.split] = base.slice(cursor..<(cursor + limit.rows))
                cursor = min(base.count, cursor + limit.rows)
            }
            for limit in limits { result[limit.split] = carved[limit.split] }
            return result
        }
        var result = dict
        for limit in limits {
            guard let split = dict[limit.split] else {
                throw DataError.missingSplit(split: limit.split, available: dict.splitNames, source: source)
            }
            result[limit.split] = split.prefix(limit.rows)
        }
        return result
    }
}
