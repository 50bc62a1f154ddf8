import DLLMJSON
import Foundation

/// Reads folders written by Hugging Face `datasets`' `save_to_disk` (the role of
/// `datasets.load_from_disk`).
///
/// A `Dataset` folder holds `state.json` (whose `_data_files` lists the shard files in order,
/// normally `data-00000-of-0000N.arrow`), `dataset_info.json` and the Arrow stream shards. A
/// `DatasetDict` folder holds `dataset_dict.json` (`{"splits": [...]}`) and one such folder per
/// split.
public enum ArrowDatasetFolder {
    /// True when `path` is a `save_to_disk` folder of either kind.
    public static func isDatasetFolder(_ path: String) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: path + "/state.json") || fm.fileExists(atPath: path + "/dataset_dict.json")
    }

    /// Loads a `DatasetDict` folder, or a single `Dataset` folder as split `train`
    /// (dLLM's `_ensure_datasetdict`).
    public static func load(path: String) throws -> DatasetDict {
        let fm = FileManager.default
        let dictFile = path + "/dataset_dict.json"
        if fm.fileExists(atPath: dictFile) {
            let json = try readJSON(dictFile, folder: path)
            guard case let .list(splits)? = json.objectValue?["splits"] else {
                throw ArrowError.invalidDatasetFolder(path: path, detail: "dataset_dict.json has no \"splits\" list")
            }
            var dict = DatasetDict(source: path)
            for split in splits {
                guard let name = split.stringValue, !name.isEmpty, !name.contains("/"), name != ".." else {
                    throw ArrowError.invalidDatasetFolder(path: path, detail: "dataset_dict.json lists an invalid split name \(split)")
                }
                dict[name] = try loadDataset(path: path + "/" + name)
            }
            return dict
        }
        return DatasetDict([("train", try loadDataset(path: path))], source: path)
    }

    /// Loads a single `Dataset` folder (all shards, in the order `state.json` lists them).
    public static func loadDataset(path: String) throws -> Dataset {
        let stateFile = path + "/state.json"
        guard FileManager.default.fileExists(atPath: stateFile) else {
            throw ArrowError.invalidDatasetFolder(path: path, detail: "state.json is missing")
        }
        let state = try readJSON(stateFile, folder: path)
        guard case let .list(files)? = state.objectValue?["_data_files"] else {
            throw ArrowError.invalidDatasetFolder(path: path, detail: "state.json has no \"_data_files\" list")
        }
        if let indices = state.objectValue?["_indices_data_files"], !indices.isNull {
            throw ArrowError.invalidDatasetFolder(
                path: path, detail: "it has an indices mapping; call `ds.flatten_indices()` before `save_to_disk`")
        }
        var rows: [DataRow] = []
        for entry in files {
            guard let name = entry.objectValue?["filename"]?.stringValue, !name.contains("/") else {
                throw ArrowError.invalidDatasetFolder(path: path, detail: "state.json has a data file entry without a plain filename: \(entry)")
            }
            let file = path + "/" + name
            guard FileManager.default.fileExists(atPath: file) else {
                throw ArrowError.invalidDatasetFolder(path: path, detail: "state.json lists '\(name)', which does not exist")
            }
            let table = try ArrowStreamReader.read(path: file)
            rows.append(contentsOf: table.dataset(source: file).rows)
        }
        return Dataset(rows: rows, source: path)
    }

    private static func readJSON(_ file: String, folder: String) throws -> DataValue {
        let data = try FileReading.read(file)
        return try data.withUnsafeBytes { bytes in
            do {
                try FileReading.validateUTF8(bytes, file: file)
                return try DataJSON.parse(bytes)
            } catch let e as JSONError {
                throw DataError.invalidJSON(file: file, line: e.line, column: e.column, detail: e.message)
            }
        }
    }
}
