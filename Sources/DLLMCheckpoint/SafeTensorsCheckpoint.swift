import DLLMJSON
import Foundation

/// The weights of a model folder: a single `model.safetensors`, or
/// `model.safetensors.index.json` plus the shard files it names (Hugging Face layout).
///
/// All files are opened (memory-mapped) and cross-checked against the index on `init`,
/// so a missing or mismatched shard is reported immediately, not at first read.
public struct SafeTensorsCheckpoint: Sendable {
    /// File name of an unsharded checkpoint.
    public static let singleFileName = "model.safetensors"
    /// File name of the shard index.
    public static let indexFileName = "model.safetensors.index.json"
    /// Largest index file read (a sanity bound against allocating for a corrupt file).
    static let maximumIndexBytes = 100_000_000

    /// The model folder.
    public let directory: URL
    /// The open files, by file name.
    public let files: [String: SafeTensorsFile]
    private let fileOfTensor: [String: String]
    private let names: [String]

    /// Opens the checkpoint in `directory`. `model.safetensors` wins if both layouts are present
    /// (as in `transformers`). Tensors in a shard that the index does not mention are ignored.
    public init(directory: URL) throws {
        self.directory = directory
        let single = directory.appendingPathComponent(Self.singleFileName)
        let index = directory.appendingPathComponent(Self.indexFileName)
        let manager = FileManager.default
        if manager.fileExists(atPath: single.path) {
            let file = try SafeTensorsFile(contentsOf: single)
            files = [Self.singleFileName: file]
            names = file.tensorNames
            fileOfTensor = Dictionary(uniqueKeysWithValues: names.map { ($0, Self.singleFileName) })
            return
        }
        guard manager.fileExists(atPath: index.path) else { throw SafeTensorsError.noWeights(directory: directory.path) }

        let weightMap = try Self.readWeightMap(index)
        var firstTensor: [String: String] = [:]  // shard → a tensor placed in it, for errors
        for (tensor, shard) in weightMap where firstTensor[shard] == nil { firstTensor[shard] = tensor }
        var files: [String: SafeTensorsFile] = [:]
        for shard in firstTensor.keys.sorted() {
            let url = directory.appendingPathComponent(shard)
            guard manager.fileExists(atPath: url.path) else {
                throw SafeTensorsError.missingShard(file: index.path, shard: shard, tensor: firstTensor[shard]!)
            }
            files[shard] = try SafeTensorsFile(contentsOf: url)
        }
        var fileOfTensor: [String: String] = [:]
        for (tensor, shard) in weightMap {
            guard files[shard]!.info(tensor) != nil else {
                throw SafeTensorsError.shardLacksTensor(file: index.path, shard: shard, tensor: tensor)
            }
            fileOfTensor[tensor] = shard
        }
        self.files = files
        self.fileOfTensor = fileOfTensor
        self.names = files.keys.sorted().flatMap { shard in
            files[shard]!.tensorNames.filter { fileOfTensor[$0] == shard }
        }
    }

    /// Parses and validates the `weight_map` of an index file (tensor → shard file name).
    private static func readWeightMap(_ url: URL) throws -> [(tensor: String, shard: String)] {
        let path = url.path
        func invalid(_ detail: String) -> SafeTensorsError { .invalidIndex(file: path, detail: detail) }
        let size = try SafeTensorsFile.regularFileSize(url)
        guard size <= maximumIndexBytes else { throw invalid("it is \(size) bytes, more than the \(maximumIndexBytes)-byte limit") }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SafeTensorsError.cannotRead(file: path, reason: SafeTensorsFile.reason(error))
        }
        let root: JSONValue
        do {
            root = try data.withUnsafeBytes { bytes in
                guard SafeTensorsHeader.isValidUTF8(bytes) else { throw invalid("it is not UTF-8 text") }
                return try JSONParser.parse(bytes, options: SafeTensorsHeader.headerJSONOptions)
            }
        } catch let error as JSONError {
            throw invalid("not valid JSON (\(error.detail))")
        }
        guard case .object = root else { throw invalid("the top level is not a JSON object") }
        guard let map = root["weight_map"] else { throw invalid("missing \"weight_map\"") }
        guard case let .object(members) = map else { throw invalid("\"weight_map\" is a \(map.typeName), expected an object") }
        return try members.map { tensor, value in
            guard case let .string(shard) = value else {
                throw invalid("\"weight_map\" entry '\(tensor)' is a \(value.typeName), expected a file name")
            }
            guard !shard.isEmpty, shard != ".", shard != "..", !shard.contains("/") else {
                throw invalid("\"weight_map\" entry '\(tensor)' names '\(shard)', which is not a plain file name in the folder")
            }
            return (tensor, shard)
        }
    }

    /// Tensor names: shard by shard (in file-name order), each in file order.
    public var tensorNames: [String] { names }

    /// The tensor's description (byte range relative to its own file), or `nil`.
    public func info(_ name: String) -> SafeTensorInfo? {
        file(containing: name)?.info(name)
    }

    /// The file holding `name`, or `nil`.
    public func file(containing name: String) -> SafeTensorsFile? {
        fileOfTensor[name].flatMap { files[$0] }
    }

    private func existingFile(_ name: String) throws -> SafeTensorsFile {
        guard let file = file(containing: name) else {
            throw SafeTensorsError.tensorNotFound(file: directory.path, tensor: name)
        }
        return file
    }

    /// Converts the tensor into `destination` (see ``SafeTensorsFile/read(_:into:)``).
    public func read<S: BinaryFloatingPoint>(_ name: String, into destination: UnsafeMutableBufferPointer<S>) throws {
        try existingFile(name).read(name, into: destination)
    }

    /// The tensor's elements as `Float`.
    public func floats(_ name: String) throws -> [Float] {
        try existingFile(name).floats(name)
    }
}
