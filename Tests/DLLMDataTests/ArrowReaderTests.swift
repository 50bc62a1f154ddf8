import DLLMTokenizers
import DLLMData
import Foundation
import XCTest

final class ArrowReaderTests: XCTestCase {
    func expected(_ key: String) throws -> DataValue {
        let dataset = try JSONLoader.load(path: fixtures + "/arrow_expected.json", field: key)
        return .list(dataset.rows.map { .object($0.values) })
    }

    func testSaveToDiskFolderMatchesPythonRows() throws {
        let dict = try DatasetLoader.loadPath(fixtures + "/arrow_dataset")
        XCTAssertEqual(dict.splitNames, ["train"])
        let rows = try dict.split("train").rows
        guard case let .list(expectedRows) = try expected("arrow_dataset") else { return XCTFail("fixture shape") }
        XCTAssertEqual(rows.count, 5)
        XCTAssertEqual(rows.count, expectedRows.count)
        for (row, want) in zip(rows, expectedRows) {
            XCTAssertEqual(.object(row.values), want, "row \(row.origin)")
        }
        // Spot checks that do not rely on the JSON round trip.
        XCTAssertEqual(rows[2]["text"], .string("wörld ✓ 日本"))
        XCTAssertEqual(rows[2]["n"], .int(3_000_000_000))
        XCTAssertEqual(rows[4]["input_ids"]?.listValue?.count, 9)
        XCTAssertEqual(try rows[0].tokenIDs("input_ids"), [1, 2, 3])
        XCTAssertEqual(rows[1]["meta"], .null)
        XCTAssertEqual(rows[2]["pair"], .null)
        XCTAssertEqual(rows[1]["u8"], .int(255))
    }

    func testDatasetDictFolderWithStructLists() throws {
        let dict = try DatasetLoader.loadPath(fixtures + "/arrow_dict")
        XCTAssertEqual(Set(dict.splitNames), ["train", "test"])
        XCTAssertEqual(try dict.split("train").count, 2)
        let messages = try SFTProcessing.messages(of: try dict.split("test").rows[0])
        XCTAssertEqual(messages, [ChatMessage(role: "user", content: "Capital of France?"),
                                  ChatMessage(role: "assistant", content: "Paris")])
        for split in ["train", "test"] {
            XCTAssertEqual(.list(try dict.split(split).rows.map { .object($0.values) }), try expected("arrow_dict_" + split))
        }
    }

    func testSingleArrowFilesInStreamAndFileFormat() throws {
        let shard = try DatasetLoader.load("\(fixtures)/arrow_dataset/data-00001-of-00002.arrow")
        XCTAssertEqual(shard["train"]?.rows.map { $0["small"] }, [.int(10), .int(-11)])
        // IPC file format, written in two record batches of at most 2 rows.
        let file = try ArrowStreamReader.read(path: fixtures + "/arrow_file_format.arrow")
        XCTAssertEqual(file.rowCount, 3)
        XCTAssertEqual(file.fields.map(\.type.description), ["string", "list<item: int64>"])
        XCTAssertEqual(file.columns[0], [.string("first"), .null, .string("third")])
        XCTAssertEqual(file.columns[1], [.list([.int(1), .int(2)]), .list([.int(3)]), .list([])])
    }

    func testUnsupportedTypeNamesColumnAndType() throws {
        assertThrows(["column 'when'", "timestamp"]) { _ = try DatasetLoader.loadPath(fixtures + "/arrow_unsupported") }
    }

    func shardBytes() throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixtures + "/arrow_dataset/data-00000-of-00002.arrow")))
    }

    func testTruncatedStreamIsAnError() throws {
        let bytes = try shardBytes()
        // Cut inside the schema metadata, inside the first body, and one byte short of the end.
        for cut in [6, 100, bytes.count / 2, bytes.count - 9] {
            assertThrows(["truncated"]) { _ = try ArrowStreamReader.read(data: Data(bytes[0..<cut]), file: "cut.arrow") }
        }
        // Every other cut either fails cleanly or yields a prefix of the rows; it never crashes.
        for cut in 0..<bytes.count {
            if let table = try? ArrowStreamReader.read(data: Data(bytes[0..<cut]), file: "cut.arrow") {
                XCTAssertLessThanOrEqual(table.rowCount, 3)
            }
        }
    }

    func testCorruptBytesNeverCrash() throws {
        let bytes = try shardBytes()
        var state: UInt64 = 12345
        func nextRandom() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        var failures = 0
        for _ in 0..<400 {
            var copy = bytes
            for _ in 0..<3 { copy[nextRandom() % copy.count] = UInt8(truncatingIfNeeded: nextRandom()) }
            do { _ = try ArrowStreamReader.read(data: Data(copy), file: "corrupt.arrow") } catch { failures += 1 }
        }
        XCTAssertGreaterThan(failures, 0)
    }

    func testBufferPointingOutsideBodyIsRejected() throws {
        // A hand-built stream: schema with one int64 column, then a record batch whose values
        // buffer claims more bytes than the body holds.
        let stream = ArrowTestStream.int64Column(name: "x", values: [1, 2, 3], claimedValuesLength: 64)
        assertThrows(["outside the", "body"]) { _ = try ArrowStreamReader.read(data: Data(stream), file: "bad.arrow") }
        let good = ArrowTestStream.int64Column(name: "x", values: [1, 2, 3], claimedValuesLength: nil)
        let table = try ArrowStreamReader.read(data: Data(good), file: "good.arrow")
        XCTAssertEqual(table.columns[0], [.int(1), .int(2), .int(3)])
    }

    func testShortValuesBufferIsRejected() throws {
        let stream = ArrowTestStream.int64Column(name: "x", values: [1, 2, 3], claimedValuesLength: 16)
        assertThrows(["column 'x'", "3 entries of 8 bytes"]) { _ = try ArrowStreamReader.read(data: Data(stream), file: "short.arrow") }
    }

    func testNotAnArrowFile() throws {
        assertThrows(["malformed", "byte 0"]) {
            _ = try ArrowStreamReader.read(data: Data("{\"text\": \"json\"}\n".utf8), file: "x.arrow")
        }
    }
}
