import DLLMData
import XCTest

final class DatasetLoaderTests: XCTestCase {
    func makeLines(_ n: Int, prefix: String, in dir: String, _ name: String) throws -> String {
        try write((0..<n).map { "{\"text\": \"\(prefix)\($0)\"}" }.joined(separator: "\n") + "\n", to: dir, name)
    }

    func texts(_ d: Dataset?) -> [String] { d?.rows.compactMap { try? $0.string("text") } ?? [] }

    func testSingleSplitLimitsAreCarvedDisjointly() throws {
        let dir = try temporaryDirectory(self)
        let path = try makeLines(10, prefix: "r", in: dir, "d.jsonl")
        let dict = try DatasetLoader.load("\(path)[train:5,test:3]")
        XCTAssertEqual(dict.splitNames, ["train", "test"])
        XCTAssertEqual(texts(dict["test"]), ["r0", "r1", "r2"])
        XCTAssertEqual(texts(dict["train"]), ["r3", "r4", "r5", "r6", "r7"])
        let all = try DatasetLoader.load(path)
        XCTAssertEqual(all["train"]?.count, 10)
        let over = try DatasetLoader.load("\(path)[train:100,test:4]")
        XCTAssertEqual(over["train"]?.count, 6)
        XCTAssertEqual(try DatasetLoader.load("\(path)[train:2]").splitNames, ["train"])
    }

    func testFolderOfFilesAndMultiSplitLimits() throws {
        let dir = try temporaryDirectory(self)
        try makeLines(4, prefix: "tr", in: dir, "train.jsonl")
        try makeLines(3, prefix: "te", in: dir, "test-00000.jsonl")
        try write("extra line\n", to: dir, "notes.txt")
        try write("ignored", to: dir, "README.md")
        let dict = try DatasetLoader.load(dir)
        XCTAssertEqual(Set(dict.splitNames), ["train", "test"])
        XCTAssertEqual(dict["train"]?.count, 5)  // notes.txt joins train
        let limited = try DatasetLoader.load("\(dir)[test:1]")
        XCTAssertEqual(texts(limited["test"]), ["te0"])
        XCTAssertEqual(limited["train"]?.count, 5)  // untouched
        assertThrows(["no split 'validation'", "train", "test"]) { _ = try DatasetLoader.load("\(dir)[validation:1]") }
    }

    func testSpecsJoinedWithPlusAreConcatenated() throws {
        let dir = try temporaryDirectory(self)
        let a = try makeLines(3, prefix: "a", in: dir, "a.jsonl")
        let b = try write("b0\nb1\n", to: dir, "b.txt")
        let dict = try DatasetLoader.load("\(a)[train:2] + \(b)")
        XCTAssertEqual(texts(dict["train"]), ["a0", "a1", "b0", "b1"])
    }

    func testOptionsReachTheLoaders() throws {
        let dir = try temporaryDirectory(self)
        let txt = try write("p1 l1\np1 l2\n\np2\n", to: dir, "t.txt")
        XCTAssertEqual(texts(try DatasetLoader.load("\(txt)[sample_by:paragraph]")["train"]), ["p1 l1\np1 l2", "p2"])
        assertThrows(["sample_by", "line, paragraph, document"]) { _ = try DatasetLoader.load("\(txt)[sample_by:sentence]") }
        assertThrows(["Unknown option 'lang:python'", "field, sample_by"]) { _ = try DatasetLoader.load("\(txt)[lang:python]") }
        let json = try write("{\"data\": [{\"text\": \"x\"}]}", to: dir, "n.json")
        XCTAssertEqual(texts(try DatasetLoader.load("\(json)[field:data]")["train"]), ["x"])
    }

    func testArrowFolderThroughSpec() throws {
        let dict = try DatasetLoader.load("\(fixtures)/arrow_dict[train:1]")
        XCTAssertEqual(dict["train"]?.count, 1)
        XCTAssertEqual(dict["test"]?.count, 1)
        let single = try DatasetLoader.load("\(fixtures)/arrow_dataset[train:3,test:1]")
        XCTAssertEqual(single["test"]?.rows.first?["n"], .int(1))
        XCTAssertEqual(single["train"]?.rows.map { $0["n"] }, [.int(-2), .int(3_000_000_000), .null])
    }

    func testFolderSkipsMarkersAndMetadata() throws {
        let dir = try temporaryDirectory(self)
        try makeLines(2, prefix: "t", in: dir, "train.jsonl")
        try write("{\"name\": \"shakespeare\", \"files\": []}", to: dir, ".complete.json")
        try write("{\"formatVersion\": 1}", to: dir, "manifest.json")
        try write("{\"features\": {}}", to: dir, "dataset_info.json")
        XCTAssertEqual(try DatasetLoader.load(dir).totalRows, 2)
    }

    func testMissingPathIsNamed() {
        assertThrows(["'no/such/file.jsonl' does not exist"]) { _ = try DatasetLoader.load("no/such/file.jsonl[train:3]") }
    }
}
