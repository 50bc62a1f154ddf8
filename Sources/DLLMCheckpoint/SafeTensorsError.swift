/// Everything that can go wrong while reading or writing safetensors files.
///
/// Every case names the file it concerns (`file`: the path, or the `origin` given to
/// ``SafeTensorsFile/init(data:origin:)``) and, where one is involved, the tensor.
/// ``description`` says what is wrong and what to do about it.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable, Sendable {
    // MARK: I/O
    /// The file (or directory) could not be read.
    case cannotRead(file: String, reason: String)
    /// The file could not be written (or renamed into place, or synced).
    case cannotWrite(file: String, reason: String)

    // MARK: Header framing
    /// The file is shorter than the 8-byte header length prefix.
    case fileTooSmall(file: String, size: Int)
    /// The header length prefix exceeds the 100 MB limit the Python package also enforces.
    case headerTooLarge(file: String, headerLength: UInt64, limit: Int)
    /// The header length prefix points past the end of the file.
    case headerExceedsFile(file: String, headerLength: UInt64, fileSize: Int)
    /// The header bytes are not valid UTF-8.
    case headerNotUTF8(file: String)
    /// The header is not valid JSON (`detail` gives the position and problem).
    case headerNotJSON(file: String, detail: String)
    /// The header is valid JSON but not a JSON object.
    case headerNotObject(file: String)

    // MARK: Tensor entries
    /// A tensor entry is not an object, lacks `dtype`/`shape`/`data_offsets`, or has a field of the wrong JSON type.
    case invalidTensorEntry(file: String, tensor: String, detail: String)
    /// The `dtype` string is not one this library supports.
    case unknownDType(file: String, tensor: String, dtype: String)
    /// The shape contains a negative dimension.
    case negativeDimension(file: String, tensor: String, shape: [Int])
    /// The product of the dimensions (times the element size) does not fit in `Int`.
    case shapeOverflow(file: String, tensor: String, shape: [Int])
    /// `shape` × dtype size disagrees with the byte count given (by `data_offsets`, or to the writer).
    case sizeMismatch(file: String, tensor: String, expectedBytes: Int, actualBytes: Int)
    /// `data_offsets` are negative, reversed (`end < begin`) or point past the end of the data blob.
    case invalidOffsets(file: String, tensor: String, begin: Int, end: Int, blobSize: Int)
    /// Two tensors' byte ranges overlap.
    case overlappingTensors(file: String, tensor: String, other: String)
    /// Bytes of the data blob that belong to no tensor (between tensors or at the end).
    case holeInData(file: String, offset: Int, length: Int)
    /// The same tensor name appears twice (in a header, a writer or a checkpoint).
    case duplicateTensor(file: String, tensor: String)
    /// `__metadata__` is not an object of string values.
    case invalidMetadata(file: String, key: String, detail: String)

    // MARK: Access
    /// No tensor of that name exists.
    case tensorNotFound(file: String, tensor: String)
    /// The destination buffer (or the values given to a writer) has the wrong element count.
    case countMismatch(file: String, tensor: String, expected: Int, actual: Int)
    /// No conversion exists between the tensor's dtype and `target` (e.g. reading F32 as `Int64`,
    /// or writing floating-point values as an integer dtype).
    case unsupportedConversion(file: String, tensor: String, dtype: SafeTensorsDType, target: String)
    /// A tensor name the writer cannot store (the reserved `__metadata__`).
    case invalidTensorName(file: String, tensor: String)

    // MARK: Checkpoint folders
    /// The directory contains neither `model.safetensors` nor `model.safetensors.index.json`.
    case noWeights(directory: String)
    /// `model.safetensors.index.json` is malformed.
    case invalidIndex(file: String, detail: String)
    /// The index maps `tensor` to a shard file that does not exist.
    case missingShard(file: String, shard: String, tensor: String)
    /// The index maps `tensor` to a shard that does not contain it.
    case shardLacksTensor(file: String, shard: String, tensor: String)

    public var description: String {
        switch self {
        case let .cannotRead(file, reason):
            return "Cannot read '\(file)': \(reason). Check that the path exists and is readable."
        case let .cannotWrite(file, reason):
            return "Cannot write '\(file)': \(reason). Check that the directory exists, is writable and has free space."
        case let .fileTooSmall(file, size):
            return "'\(file)' is only \(size) bytes; a safetensors file starts with an 8-byte header length. "
                + "The file is truncated or not a safetensors file: re-download or re-export it."
        case let .headerTooLarge(file, length, limit):
            return "'\(file)' declares a \(length)-byte header, above the \(limit)-byte limit. "
                + "The file is corrupt or not a safetensors file: re-download or re-export it."
        case let .headerExceedsFile(file, length, size):
            return "'\(file)' declares a \(length)-byte header but the file has only \(size) bytes. "
                + "The file is truncated (incomplete download?) or not a safetensors file: re-download or re-export it."
        case let .headerNotUTF8(file):
            return "The header of '\(file)' is not valid UTF-8. The file is corrupt or not a safetensors file: re-export it."
        case let .headerNotJSON(file, detail):
            return "The header of '\(file)' is not valid JSON (\(detail)). The file is corrupt: re-export it."
        case let .headerNotObject(file):
            return "The header of '\(file)' is JSON but not an object of tensor entries. The file is corrupt: re-export it."
        case let .invalidTensorEntry(file, tensor, detail):
            return "Tensor '\(tensor)' in '\(file)' has an invalid header entry: \(detail). "
                + "Each entry needs \"dtype\" (string), \"shape\" (array of integers) and \"data_offsets\" ([begin, end]); re-export the file."
        case let .unknownDType(file, tensor, dtype):
            return "Tensor '\(tensor)' in '\(file)' has dtype '\(dtype)', which is not supported "
                + "(supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL). Convert the checkpoint to a supported dtype."
        case let .negativeDimension(file, tensor, shape):
            return "Tensor '\(tensor)' in '\(file)' has a negative dimension in shape \(shape). The file is corrupt: re-export it."
        case let .shapeOverflow(file, tensor, shape):
            return "The size of tensor '\(tensor)' in '\(file)' (shape \(shape)) overflows. The file is corrupt, or the shape is wrong."
        case let .sizeMismatch(file, tensor, expected, actual):
            return "Tensor '\(tensor)' in '\(file)' should occupy \(expected) bytes according to its shape and dtype, "
                + "but has \(actual). The shape, dtype or data are inconsistent: fix the producer or re-export the file."
        case let .invalidOffsets(file, tensor, begin, end, blob):
            return "Tensor '\(tensor)' in '\(file)' has data_offsets [\(begin), \(end)], outside the \(blob)-byte data blob "
                + "or reversed. The file is truncated or corrupt: re-download or re-export it."
        case let .overlappingTensors(file, tensor, other):
            return "Tensors '\(other)' and '\(tensor)' in '\(file)' share bytes. The file is corrupt: re-export it."
        case let .holeInData(file, offset, length):
            return "'\(file)' has \(length) bytes at data offset \(offset) that belong to no tensor "
                + "(the Python package rejects such files too). Re-export the file."
        case let .duplicateTensor(file, tensor):
            return "Tensor name '\(tensor)' appears more than once in '\(file)'. Give every tensor a unique name."
        case let .invalidMetadata(file, key, detail):
            return "Invalid __metadata__ entry '\(key)' in '\(file)': \(detail). Metadata must map strings to strings."
        case let .tensorNotFound(file, tensor):
            return "'\(file)' has no tensor named '\(tensor)'. Check the name against `tensorNames`."
        case let .countMismatch(file, tensor, expected, actual):
            return "Tensor '\(tensor)' in '\(file)' has \(expected) elements but \(actual) were given. "
                + "Pass a buffer (or values) with exactly the tensor's element count."
        case let .unsupportedConversion(file, tensor, dtype, target):
            return "Tensor '\(tensor)' in '\(file)': there is no conversion between dtype \(dtype.rawValue) and \(target). "
                + "Read floating dtypes with `floats`/`read(_:into:)` and integer dtypes with `int64s`; "
                + "write floating values as F64/F32/F16/BF16 and integers with `add(_:dtype:shape:bytes:)`."
        case let .invalidTensorName(file, tensor):
            return "'\(tensor)' is not a valid tensor name for '\(file)': the key '__metadata__' is reserved for the metadata map. Rename the tensor."
        case let .noWeights(directory):
            return "'\(directory)' contains neither model.safetensors nor model.safetensors.index.json. "
                + "Point to the folder that holds the model weights."
        case let .invalidIndex(file, detail):
            return "The shard index '\(file)' is invalid: \(detail). Re-create it, or re-download the checkpoint."
        case let .missingShard(file, shard, tensor):
            return "The shard index '\(file)' places tensor '\(tensor)' in '\(shard)', but that file does not exist. "
                + "Download or copy the missing shard into the folder."
        case let .shardLacksTensor(file, shard, tensor):
            return "The shard index '\(file)' places tensor '\(tensor)' in '\(shard)', but that shard has no such tensor. "
                + "The index and shards are from different checkpoints: re-download them together."
        }
    }
}
