import DLLMData
import XCTest

final class FileLoaderTests: XCTestCase {
    func testJSONLinesReadsObjectsAndSkipsBlankLines() throws {
        let dir = try temporaryDirectory(self)
        let path = try write("{\"text\": \"a\", \"n\": 1}\n\n{\"text\": \"b\\u00e9\", \"x\": [1, 2.5, null]}\r\n", to: dir, "d.jsonl")
        let ds = try JSONLinesLoader.load(path: path)
        XCTAssertEqual(ds.count, 2)
        XCTAssertEqual(ds.rows[0]["n"], .int(1))
        XCTAssertEqual(try ds.rows[1].string("text"), "bé")
        XCTAssertEqual(ds.rows[1]["x"], .list([.int(1), .double(2.5), .null]))
        XCTAssertEqual(ds.rows[1].origin.line, 3)
        XCTAssertEqual(ds.columnNames, ["n", "text", "x"])
    }

    func testJSONLinesLineThatIsNotJSONNamesFileAndLine() throws {
        let dir = try temporaryDirectory(self)
        let path = try write("{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n", to: dir, "bad.jsonl")
        assertThrows([path + ":2:", "not valid JSON"]) { _ = try JSONLinesLoader.load(path: path) }
        let notObject = try write("{\"a\": 1}\n[1, 2]\n", to: dir, "array.jsonl")
        assertThrows([notObject + ":2", "list, not an object"]) { _ = try JSONLinesLoader.load(path: notObject) }
    }

    func testInvalidUTF8NamesTheLine() throws {
        let dir = try temporaryDirectory(self)
        let bytes = Array("{\"text\": \"fine\"}\n".utf8) + [0x7B, 0x22, 0x74, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D, 0x0A]
        let path = try write(bytes: bytes, to: dir, "latin.jsonl")
        assertThrows([path + ":2", "not valid UTF-8"]) { _ = try JSONLinesLoader.load(path: path) }
        let text = try write(bytes: Array("one\ntwo\n".utf8) + [0xC3, 0x28, 0x0A], to: dir, "t.txt")
        assertThrows([text + ":3", "UTF-8"]) { _ = try TextLoader.load(path: text) }
        let csv = try write(bytes: Array("a,b\n1,2\n".utf8) + [0x80, 0x2C, 0x31, 0x0A], to: dir, "c.csv")
        assertThrows([csv + ":3", "UTF-8"]) { _ = try CSVLoader.load(path: csv) }
    }

    func testMissingFieldNamesFieldFileAndLine() throws {
        let dir = try temporaryDirectory(self)
        let path = try write("{\"text\": \"a\"}\n{\"content\": \"b\"}\n", to: dir, "m.jsonl")
        let ds = try JSONLinesLoader.load(path: path)
        assertThrows(["'text'", path + ":2", "content"]) { _ = try ds.rows[1].string("text") }
        assertThrows(["'text'", "string", "integer"]) {
            _ = try DataRow(["text": .int(3)], origin: RowOrigin(file: "f", line: 1, row: 0)).string("text")
        }
    }

    func testJSONArrayAlpacaStyleReportsRowLines() throws {
        let dir = try temporaryDirectory(self)
        let path = try write("""
        [
          {"instruction": "Add", "input": "1 2", "output": "3"},
          {"instruction": "Greet",
           "input": "", "output": "hello"}
        ]
        """, to: dir, "alpaca.json")
        let ds = try JSONLoader.load(path: path)
        XCTAssertEqual(ds.count, 2)
        XCTAssertEqual(try ds.rows[1].string("output"), "hello")
        XCTAssertEqual(ds.rows[1].origin.line, 3)
        XCTAssertEqual(ds.rows[1].origin.description, path + ":3")
    }

    func testJSONColumnsAndFieldOption() throws {
        let dir = try temporaryDirectory(self)
        let columns = try write("{\"text\": [\"a\", \"b\"], \"id\": [1, 2]}", to: dir, "cols.json")
        let ds = try JSONLoader.load(path: columns)
        XCTAssertEqual(ds.rows.map { $0["id"] }, [.int(1), .int(2)])
        let nested = try write("{\"version\": 1, \"data\": [{\"text\": \"x\"}]}", to: dir, "nested.json")
        XCTAssertEqual(try JSONLoader.load(path: nested, field: "data").rows.first?["text"], .string("x"))
        assertThrows(["no key 'rows'", "data, version"]) { _ = try JSONLoader.load(path: nested, field: "rows") }
        let broken = try write("[\n {\"a\": 1},\n {\"a\": }\n]", to: dir, "broken.json")
        assertThrows([broken + ":3:", "not valid JSON"]) { _ = try JSONLoader.load(path: broken) }
        let unequal = try write("{\"a\": [1, 2], \"b\": [1]}", to: dir, "unequal.json")
        assertThrows(["values, others have"]) { _ = try JSONLoader.load(path: unequal) }
    }

    func testTextLoaderModesAndEmptyDocumentCount() throws {
        let dir = try temporaryDirectory(self)
        let path = try write("first line\n\nsecond para\nstill second\n\n\nthird\n", to: dir, "t.txt")
        let lines = try TextLoader.load(path: path)
        XCTAssertEqual(lines.rows.map { try? $0.string("text") }, ["first line", "second para", "still second", "third"])
        XCTAssertEqual(lines.skippedEmptyRows, 3)
        XCTAssertEqual(lines.rows[1].origin.line, 3)
        let paragraphs = try TextLoader.load(path: path, sampling: .paragraph)
        XCTAssertEqual(paragraphs.rows.map { try? $0.string("text") }, ["first line", "second para\nstill second", "third"])
        let document = try TextLoader.load(path: path, sampling: .document)
        XCTAssertEqual(document.count, 1)
        XCTAssertEqual(try document.rows[0].string("text"), "first line\n\nsecond para\nstill second\n\n\nthird\n")
        let blank = try write(" \n\n", to: dir, "blank.txt")
        XCTAssertEqual(try TextLoader.load(path: blank, sampling: .document).skippedEmptyRows, 1)
    }

    func testCSVQuotingFollowsRFC4180() throws {
        let dir = try temporaryDirectory(self)
        let path = try write("text,label\r\n\"Hello, world\",1\r\n\"She said \"\"hi\"\"\",2\r\n\"two\nlines\",3\r\nplain,\r\n", to: dir, "d.csv")
        let ds = try CSVLoader.load(path: path)
        XCTAssertEqual(ds.rows.map { try? $0.string("text") }, ["Hello, world", "She said \"hi\"", "two\nlines", "plain"])
        XCTAssertEqual(ds.rows.map { $0["label"] }, [.string("1"), .string("2"), .string("3"), .string("")])
        XCTAssertEqual(ds.rows[3].origin.line, 6)
    }

    func testCSVErrorsNameTheLine() throws {
        let dir = try temporaryDirectory(self)
        let unterminated = try write("a,b\n1,\"open\n2,3\n", to: dir, "u.csv")
        assertThrows([unterminated + ":2", "never closed"]) { _ = try CSVLoader.load(path: unterminated) }
        let count = try write("a,b\n1,2\n3\n", to: dir, "n.csv")
        assertThrows([count + ":3", "1 fields where the header has 2"]) { _ = try CSVLoader.load(path: count) }
        let stray = try write("a,b\n1,x\"y\n", to: dir, "s.csv")
        assertThrows([stray + ":2", "double quote inside an unquoted field"]) { _ = try CSVLoader.load(path: stray) }
    }

    func testUnknownExtensionAndMissingFile() throws {
        let dir = try temporaryDirectory(self)
        let path = try write("x", to: dir, "data.parquet")
        assertThrows(["data.parquet", "unknown extension '.parquet'"]) { _ = try DatasetLoader.loadFile(path) }
        assertThrows(["does not exist"]) { _ = try DatasetLoader.loadFile(dir + "/nope.jsonl") }
    }
}
