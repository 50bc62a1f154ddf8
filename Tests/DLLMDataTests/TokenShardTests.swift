import DLLMData
import DLLMTokenizers
import Foundation
import XCTest

final class TokenShardTests: XCTestCase {
    func testRoundTripU16AndU32() throws {
        let dir = try temporaryDirectory(self)
        let small: [Int32] = [1, 2, 3, 65535, 0, 7, 8]
        let header = try TokenShardWriter.write(tokens: small, sequenceLength: 3, eosTokenID: 2, to: dir + "/a.dtok")
        XCTAssertEqual(header.dtype, .u16)
        let shard = try TokenShard(path: dir + "/a.dtok", verifyChecksum: true)
        XCTAssertEqual(shard.sequenceCount, 3)
        XCTAssertEqual(try shard.sequence(at: 0), [1, 2, 3])
        XCTAssertEqual(try shard.sequence(at: 2), [8])  // short tail
        XCTAssertEqual(shard.header.eosTokenID, 2)
        let attrs = try FileManager.default.attributesOfItem(atPath: dir + "/a.dtok")
        XCTAssertEqual(attrs[.size] as? Int, 64 + 2 * small.count)
        let wide: [Int32] = [70000, 1, 126_081, 4]
        XCTAssertEqual(try TokenShardWriter.write(tokens: wide, sequenceLength: 2, eosTokenID: nil, to: dir + "/b.dtok").dtype, .u32)
        XCTAssertEqual(try TokenShard(path: dir + "/b.dtok").tokens(0..<4), wide)
        assertThrows(["does not fit u16"]) {
            try TokenShardWriter.write(tokens: wide, sequenceLength: 2, eosTokenID: nil, dtype: .u16, to: dir + "/c.dtok")
        }
    }

    func shardBytes(_ dir: String) throws -> [UInt8] {
        try TokenShardWriter.write(tokens: Array(0..<40), sequenceLength: 8, eosTokenID: nil, to: dir + "/s.dtok")
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/s.dtok")))
    }

    func testTruncatedHeader() throws {
        let dir = try temporaryDirectory(self)
        let bytes = try shardBytes(dir)
        let path = try write(bytes: Array(bytes[0..<30]), to: dir, "short.dtok")
        assertThrows([path, "30 bytes", "64-byte"]) { _ = try TokenShard(path: path) }
    }

    func testWrongMagic() throws {
        let dir = try temporaryDirectory(self)
        var bytes = try shardBytes(dir)
        bytes[7] = UInt8(ascii: "2")
        let path = try write(bytes: bytes, to: dir, "magic.dtok")
        assertThrows([path, "DLLMTOK1", "DLLMTOK2"]) { _ = try TokenShard(path: path) }
    }

    func testSizeMismatchNamesFile() throws {
        let dir = try temporaryDirectory(self)
        let bytes = try shardBytes(dir)
        let cut = try write(bytes: Array(bytes.dropLast(3)), to: dir, "cut.dtok")
        assertThrows([cut, "should be 144 bytes", "is 141 bytes"]) { _ = try TokenShard(path: cut) }
        let padded = try write(bytes: bytes + [0, 0], to: dir, "long.dtok")
        assertThrows([padded, "is 146 bytes"]) { _ = try TokenShard(path: padded) }
        var huge = bytes
        for i in 16..<24 { huge[i] = 0xFF }  // absurd token count
        let hugePath = try write(bytes: huge, to: dir, "huge.dtok")
        assertThrows([hugePath, "according to its header"]) { _ = try TokenShard(path: hugePath) }
    }

    func testChecksumAndHeaderFields() throws {
        let dir = try temporaryDirectory(self)
        var bytes = try shardBytes(dir)
        bytes[70] ^= 0x01
        let flipped = try write(bytes: bytes, to: dir, "flip.dtok")
        XCTAssertNoThrow(try TokenShard(path: flipped))  // only checked on request
        assertThrows([flipped, "checksum"]) { _ = try TokenShard(path: flipped, verifyChecksum: true) }
        var badWidth = try shardBytes(dir)
        badWidth[12] = 3
        let widthPath = try write(bytes: badWidth, to: dir, "width.dtok")
        assertThrows([widthPath, "3 bytes per token"]) { _ = try TokenShard(path: widthPath) }
        var badVersion = try shardBytes(dir)
        badVersion[8] = 9
        let versionPath = try write(bytes: badVersion, to: dir, "version.dtok")
        assertThrows([versionPath, "version 9"]) { _ = try TokenShard(path: versionPath) }
    }

    func testPrepareWritesShardsThatServeTheGroupedSequences() throws {
        let dir = try temporaryDirectory(self)
        let text = (0..<50).map { "document number \($0) with some words" }.joined(separator: "\n") + "\n"
        let path = try write(text, to: dir, "corpus.txt")
        let dataset = try DatasetLoader.load("\(path)[train:45,test:5]")
        let tokenizer = ByteLevelTokenizer()
        let grouping = GroupingOptions(sequenceLength: 64, insertEOS: true, dropTail: true, mapBatchSize: nil)
        let out = dir + "/shards"
        let manifest = try TokenShardPreparation.prepare(
            dataset, tokenizer: tokenizer, tokenizerName: "bytes", datasetSpec: "corpus",
            options: .init(grouping: grouping, tokensPerShard: 64 * 10), output: out)
        let expected = try PretrainingGrouping.tokenizeAndGroup(try dataset.split("train"), tokenizer: tokenizer, options: grouping)
        let train = try ShardedTokenDataset(directory: out, split: "train", verifyChecksums: true)
        XCTAssertEqual(train.count, expected.sequences.count)
        XCTAssertGreaterThan(manifest.splits["train"]!.files.count, 1)
        for i in 0..<train.count { XCTAssertEqual(try train.sequence(at: i), expected.sequences[i]) }
        XCTAssertEqual(try train.example(at: 3).labels, expected.sequences[3])
        let test = try ShardedTokenDataset(directory: out, split: "test")
        XCTAssertEqual(test.sequenceLength, 64)
        XCTAssertEqual(manifest.splits["test"]?.sequences, test.count)
        var loader = try TokenBatchLoader(source: train, plan: BatchPlan(perDeviceBatchSize: 2, seed: 1), rank: 0,
                                          collator: .pretraining(padTokenID: 256))
        let step = try loader.next()
        XCTAssertEqual(step.microBatches[0].rows, 2)
        XCTAssertEqual(step.microBatches[0].length, 64)
        XCTAssertEqual(Array(step.microBatches[0].inputRow(1)), expected.sequences[step.sampleIndices[0][1]])
        assertThrows(["no split 'validation'"]) { _ = try ShardedTokenDataset(directory: out, split: "validation") }
        assertThrows(["short sequence", "map batch size"]) {
            _ = try TokenShardPreparation.prepare(
                dataset, tokenizer: tokenizer, tokenizerName: "bytes", datasetSpec: "corpus",
                options: .init(grouping: GroupingOptions(sequenceLength: 64, dropTail: false)), output: out)
        }
    }
}
