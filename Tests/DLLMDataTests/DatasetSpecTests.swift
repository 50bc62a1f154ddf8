import DLLMData
import XCTest

final class DatasetSpecTests: XCTestCase {
    func testBarePathAndLimitsWithUnderscores() throws {
        XCTAssertEqual(try DatasetSpec.parse("data/c4.jsonl"), DatasetSpec(path: "data/c4.jsonl"))
        let spec = try DatasetSpec.parse(" data/c4.jsonl[train:1_000_000, test:1000] ")
        XCTAssertEqual(spec.path, "data/c4.jsonl")
        XCTAssertEqual(spec.limits, [SplitLimit(split: "train", rows: 1_000_000), SplitLimit(split: "test", rows: 1000)])
        XCTAssertEqual(spec.options, [:])
        XCTAssertEqual(spec.description, "data/c4.jsonl[train:1000000,test:1000]")
    }

    func testOptionsAndEmptyEntries() throws {
        let spec = try DatasetSpec.parse("x.json[field:data,,train:5,]")
        XCTAssertEqual(spec.options, ["field": "data"])
        XCTAssertEqual(spec.limits, [SplitLimit(split: "train", rows: 5)])
        XCTAssertEqual(try DatasetSpec.parse("x[]").limits, [])
    }

    func testSeveralSpecsJoinedWithPlusOrBar() throws {
        let specs = try DatasetSpec.parseList("a.jsonl[train:10] + b.txt | c/")
        XCTAssertEqual(specs.map(\.path), ["a.jsonl", "b.txt", "c/"])
        XCTAssertEqual(specs[0].limits.first?.rows, 10)
    }

    func position(_ spec: String) -> Int? {
        do { _ = try DatasetSpec.parseList(spec); return nil } catch let e as DatasetSpecError { return e.position } catch { return nil }
    }

    func testErrorsNameStringAndPosition() {
        XCTAssertEqual(position("a[train:10"), 11)          // never closed
        XCTAssertEqual(position("a[train10]"), 3)           // no ':'
        XCTAssertEqual(position("a[train:1__0]"), 11)       // second underscore
        XCTAssertEqual(position("a[train:10%]"), 11)        // percentage
        XCTAssertEqual(position("[train:1]"), 1)            // empty path
        XCTAssertEqual(position("a[train:1,train:2]"), 11)  // duplicate
        XCTAssertEqual(position("a + + b"), 4)              // empty part
        XCTAssertEqual(position("a]"), 2)                   // stray ']'
        XCTAssertEqual(position("a[x:1]b"), 7)              // text after ']'
        XCTAssertEqual(position("a[:1]"), 3)                // empty key
        XCTAssertEqual(position("a[train:]"), 8)            // empty value
        XCTAssertEqual(position("a[train:1_]"), 10)         // trailing underscore
        XCTAssertEqual(position("a[train:-5]"), 9)          // negative
        XCTAssertEqual(position(""), 1)
        XCTAssertNil(position("a[train:1_000]"))
        assertThrows(["'a[train:10%]'", "character 11", "percentages are not supported"]) {
            _ = try DatasetSpec.parse("a[train:10%]")
        }
    }
}
