import DLLMJSON
import Foundation

/// `manifest.json` of a `dllm prepare` output folder: which shard files make up each split and
/// how they were produced.
public struct TokenShardManifest: Codable, Equatable, Sendable {
    public struct Split: Codable, Equatable, Sendable {
        /// Shard file names, relative to the folder, in order.
        public var files: [String]
        public var sequences: Int
        public var tokens: Int
        public var stats: GroupingStats
    }

    public var formatVersion: Int
    public var sequenceLength: Int
    /// A label for the tokenizer (e.g. `bytes`, or a tokenizer folder).
    public var tokenizer: String
    public var eosTokenID: Int32?
    /// The dataset spec the shards were made from.
    public var dataset: String
    public var grouping: GroupingOptions
    public var splits: [String: Split]

    public static let fileName = "manifest.json"

    public static func read(directory: String) throws -> TokenShardManifest {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else {
            throw TokenShardError.invalidDirectory(path: directory, detail: "\(fileName) is missing")
        }
        do {
            return try JSONValueDecoder().decode(TokenShardManifest.self, fromJSON: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw TokenShardError.invalidDirectory(path: directory, detail: "\(fileName) does not decode (\(error))")
        }
    }

    public func write(directory: String) throws {
        let path = directory + "/" + Self.fileName
        do {
            try Data(JSONValueEncoder().bytes(self, style: .indented(2), sortedKeys: true)).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TokenShardError.cannotWrite(file: path, reason: error.localizedDescription)
        }
    }
}

/// Fixed-length training sequences served from memory-mapped token shards.
///
/// Opens the shards of one split of a `dllm prepare` folder (or an explicit list of files),
/// checks every header against its file size and against the manifest, and maps sequence index
/// `i` to its shard. Labels equal inputs (pretraining).
public struct ShardedTokenDataset: ExampleSource, Sendable {
    public let shards: [TokenShard]
    public let sequenceLength: Int
    /// `cumulative[k]`: sequences in shards before `k`.
    private let cumulative: [Int]
    public let count: Int

    public init(directory: String, split: String = "train", verifyChecksums: Bool = false) throws {
        let manifest = try TokenShardManifest.read(directory: directory)
        guard let entry = manifest.splits[split] else {
            throw TokenShardError.invalidDirectory(
                path: directory, detail: "the manifest has no split '\(split)' (it has: \(manifest.splits.keys.sorted().joined(separator: ", ")))")
        }
        try self.init(files: entry.files.map { directory + "/" + $0 }, verifyChecksums: verifyChecksums)
        guard sequenceLength == manifest.sequenceLength, count == entry.sequences else {
            throw TokenShardError.invalidDirectory(
                path: directory,
                detail: "split '\(split)' holds \(count) sequences of \(sequenceLength) tokens, the manifest says "
                    + "\(entry.sequences) of \(manifest.sequenceLength)")
        }
    }

    public init(files: [String], verifyChecksums: Bool = false) throws {
        guard !files.isEmpty else { throw TokenShardError.invalidDirectory(path: "(no files)", detail: "no shard files given") }
        let shards = try files.map { try TokenShard(path: $0, verifyChecksum: verifyChecksums) }
        let length = shards[0].sequenceLength
        var cumulative: [Int] = []
        var total = 0
        for (k, shard) in shards.enumerated() {
            guard shard.sequenceLength == length else {
                throw TokenShardError.invalidDirectory(
                    path: shard.file, detail: "sequence length \(shard.sequenceLength) differs from \(length) in '\(shards[0].file)'")
            }
            if k < shards.count - 1 && shard.tokenCount % length != 0 {
                throw TokenShardError.invalidDirectory(
                    path: shard.file, detail: "only the last shard may end with a short sequence")
            }
            cumulative.append(total)
            total += shard.sequenceCount
        }
        self.shards = shards
        self.sequenceLength = length
        self.cumulative = cumulative
        self.count = total
    }

    /// Sequence `index` over all shards.
    public func sequence(at index: Int) throws -> [Int32] {
        guard index >= 0 && index < count else { throw TokenShardError.indexOutOfRange(index: index, count: count) }
        var lo = 0
        var hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if cumulative[mid] <= index { lo = mid } else { hi = mid - 1 }
        }
        return try shards[lo].sequence(at: index - cumulative[lo])
    }

    public func example(at index: Int) throws -> SFTExample {
        let ids = try sequence(at: index)
        return SFTExample(inputIDs: ids, labels: ids, promptLength: nil)
    }
}
