import DLLMData
import DLLMJSON
@testable import DLLMTraining
import Foundation
import XCTest

/// `trainer_state.json` and the data position it carries are written and read through
/// DLLMJSON's Codable bridge; files that Foundation's `JSONEncoder` wrote (every
/// checkpoint saved before the bridge) still load to the same state.
final class StateFileCompatibilityTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// A seed above `Int64.max`: written as an integer, read back exactly.
    static func position(epoch: Int, step: Int) -> LoaderPosition {
        LoaderPosition(epoch: epoch, step: step, globalStep: 9 + step, samplesPerRank: 72, seed: 0xFFFF_FFFF_FFFF_FFF0,
                       datasetCount: 1000, globalBatchSize: 16)
    }

    private func sampleState(position: Data) -> TrainerState {
        var state = TrainerState()
        state.globalStep = 114
        state.epoch = 2.0
        state.dataPosition = position
        state.seed = 7
        state.totalSteps = 3000
        var logged = TrainerState.LogEntry(step: 100, epoch: 1.75, loss: 3.25, evalLoss: nil, learningRate: 1e-4,
                                           gradNorm: 0.5, tokensPerSecond: nil)
        state.logHistory = [logged]
        logged.step = 110
        logged.loss = nil
        logged.evalLoss = 2.875
        state.logHistory.append(logged)
        return state
    }

    func testCheckpointsWrittenByFoundationStillLoad() throws {
        // What `CheckpointManager` wrote before the bridge: a Foundation-encoded loader
        // position inside a Foundation-encoded trainer state (Data as base64).
        let oldPosition = try JSONEncoder().encode(Self.position(epoch: 1, step: 5))
        let state = sampleState(position: oldPosition)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(state).write(to: directory.appendingPathComponent("trainer_state.json"))
        let loaded = try CheckpointManager.loadState(directory)
        XCTAssertEqual(loaded, state)
        XCTAssertEqual(try JSONValueDecoder().decode(LoaderPosition.self, fromJSON: try XCTUnwrap(loaded.dataPosition)),
                       Self.position(epoch: 1, step: 5))
    }

    func testTheBridgeWritesTheSameFields() throws {
        let position = Data(try JSONValueEncoder().bytes(Self.position(epoch: 0, step: 3)))
        let state = sampleState(position: position)
        let bytes = try JSONValueEncoder().bytes(state, style: .indented(2), sortedKeys: true)
        try Data(bytes).write(to: directory.appendingPathComponent("trainer_state.json"))
        XCTAssertEqual(try CheckpointManager.loadState(directory), state)
        // The same JSON as before: Foundation reads it into the same value, and
        // `data_position` is still a base64 string.
        XCTAssertEqual(try JSONDecoder().decode(TrainerState.self, from: Data(bytes)), state)
        let tree = try JSONParser.parse(bytes)
        XCTAssertEqual(tree["data_position"]?.stringValue, position.base64EncodedString())
        XCTAssertEqual(tree["epoch"], .double(2.0), "a Double stays a double")
        XCTAssertEqual(tree["log_history"]?.arrayValue?.first?["eval_loss"], nil, "nil optionals are left out")
    }

    func testAStateFileThatIsNotBase64OrNotJSONIsALocatedError() throws {
        let file = directory.appendingPathComponent("trainer_state.json")
        try Data(#"{"global_step":1,"epoch":0,"data_position":"%%%","seed":1,"max_steps":2,"log_history":[]}"#.utf8).write(to: file)
        XCTAssertThrowsError(try CheckpointManager.loadState(directory)) { error in
            XCTAssertTrue("\(error)".contains("data_position"), "\(error)")
        }
        try Data("{\"global_step\":1,\n\"epoch\":}".utf8).write(to: file)
        XCTAssertThrowsError(try CheckpointManager.loadState(directory)) { error in
            XCTAssertTrue("\(error)".contains("line 2"), "\(error)")
        }
    }
}
