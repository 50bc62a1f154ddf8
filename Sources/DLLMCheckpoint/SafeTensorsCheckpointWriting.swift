import DLLMJSON
import Foundation

extension SafeTensorsCheckpoint {
    /// Writes `tensors` into `directory` (created if needed) as `dtype` (F64, F32, F16 or BF16).
    ///
    /// Without `maxShardBytes`, or when everything fits in one shard, writes `model.safetensors`.
    /// Otherwise splits the tensors, in the given order, into shards named like Hugging Face
    /// (`model-00001-of-00003.safetensors`) plus `model.safetensors.index.json` with
    /// `"metadata": {"total_size": …}` (tensor data bytes) and `"weight_map"`. As in
    /// `huggingface_hub`, shard sizes count tensor data only, a new shard starts when the next
    /// tensor would exceed the limit, and a tensor larger than the limit gets a shard of its own.
    /// Every file is written atomically; the entry point of the other layout
    /// (`model.safetensors` or the index), if present, is removed afterwards so the folder
    /// stays unambiguous. All tensors are validated before any file is written.
    public static func write(
        _ tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)],
        dtype: SafeTensorsDType,
        to directory: URL,
        maxShardBytes: Int? = nil,
        metadata: [String: String] = ["format": "pt"]
    ) throws {
        // Validate everything up front (a failure must not leave half a checkpoint).
        let origin = directory.path
        var seen = Set<String>()
        var sizes: [Int] = []
        for tensor in tensors {
            guard dtype.isFloatingPoint else {
                throw SafeTensorsError.unsupportedConversion(file: origin, tensor: tensor.name, dtype: dtype, target: "Float")
            }
            guard tensor.name != "__metadata__" else { throw SafeTensorsError.invalidTensorName(file: origin, tensor: tensor.name) }
            guard seen.insert(tensor.name).inserted else { throw SafeTensorsError.duplicateTensor(file: origin, tensor: tensor.name) }
            if tensor.shape.contains(where: { $0 < 0 }) {
                throw SafeTensorsError.negativeDimension(file: origin, tensor: tensor.name, shape: tensor.shape)
            }
            guard let (count, bytes) = checkedSizes(shape: tensor.shape, dtype: dtype) else {
                throw SafeTensorsError.shapeOverflow(file: origin, tensor: tensor.name, shape: tensor.shape)
            }
            guard tensor.values.count == count else {
                throw SafeTensorsError.countMismatch(file: origin, tensor: tensor.name, expected: count, actual: tensor.values.count)
            }
            sizes.append(bytes)
        }

        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw SafeTensorsError.cannotWrite(file: origin, reason: SafeTensorsFile.reason(error))
        }

        let shards = planShards(sizes: sizes, maxShardBytes: maxShardBytes)
        func writeShard(_ members: Range<Int>, to url: URL) throws {
            var writer = SafeTensorsWriter(metadata: metadata)
            for i in members {
                try writer.add(tensors[i].name, shape: tensors[i].shape, values: tensors[i].values, as: dtype)
            }
            try writer.write(to: url)
        }

        let single = directory.appendingPathComponent(singleFileName)
        let index = directory.appendingPathComponent(indexFileName)
        if shards.count <= 1 {
            try writeShard(0..<tensors.count, to: single)
            try removeIfPresent(index)
            return
        }
        var weightMap: [(key: String, value: JSONValue)] = []
        for (number, members) in shards.enumerated() {
            let name = shardFileName(number + 1, of: shards.count)
            try writeShard(members, to: directory.appendingPathComponent(name))
            weightMap += members.map { (tensors[$0].name, .string(name)) }
        }
        weightMap.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        let json = JSONValue.object([
            ("metadata", .object([("total_size", .integer(Int64(sizes.reduce(0, +))))])),
            ("weight_map", .object(weightMap)),
        ])
        let text = JSONWriter.bytes(json, style: .indented(2)) + [0x0A]
        try AtomicFile.write(to: index) { sink in try text.withUnsafeBytes { try sink.write($0) } }
        try removeIfPresent(single)
    }

    /// `model-00001-of-00003.safetensors`.
    static func shardFileName(_ number: Int, of total: Int) -> String {
        func padded(_ value: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
        }
        return "model-\(padded(number))-of-\(padded(total)).safetensors"
    }

    /// Consecutive index ranges, one per shard (at least one range, possibly empty).
    static func planShards(sizes: [Int], maxShardBytes: Int?) -> [Range<Int>] {
        guard let limit = maxShardBytes else { return [0..<sizes.count] }
        var shards: [Range<Int>] = []
        var start = 0
        var current = 0
        for (i, size) in sizes.enumerated() {
            if size > limit {
                // Oversized tensor: close the running shard, give the tensor its own.
                if start < i { shards.append(start..<i) }
                shards.append(i..<(i + 1))
                start = i + 1
                current = 0
                continue
            }
            if current + size > limit, start < i {
                shards.append(start..<i)
                start = i
                current = 0
            }
            current += size
        }
        if start < sizes.count || shards.isEmpty { shards.append(start..<sizes.count) }
        return shards
    }

    private static func removeIfPresent(_ url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        do { try FileManager.default.removeItem(at: url) } catch {
            throw SafeTensorsError.cannotWrite(file: url.path, reason: "removing the stale file: " + SafeTensorsFile.reason(error))
        }
    }
}
