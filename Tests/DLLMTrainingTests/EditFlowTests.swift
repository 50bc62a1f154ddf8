import DLLMCheckpoint
import DLLMCompute
import DLLMModels
import DLLMRandom
@testable import DLLMTraining
import Foundation
import XCTest

/// Edit Flows against PyTorch transcriptions of dLLM's `align_with_blanks`, `build_remaining_edits`,
/// κ schedulers and `EditFlowTrainer.compute_loss` (Tests/Fixtures/generate_editflow.py),
/// and the alignment's defining properties on random strings.
final class EditFlowTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DLLMModelsTests/Fixtures/editflow_llama")

    func reference() throws -> (file: SafeTensorsFile, json: [String: Any]) {
        let file = try SafeTensorsFile(contentsOf: Self.fixtures.appendingPathComponent("editflow.safetensors"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("editflow.json"))) as! [String: Any]
        return (file, json)
    }

    static func ints(_ value: Any?) -> [Int32] { (value as! [NSNumber]).map { Int32($0.intValue) } }

    /// dLLM's `[kind, pos, token]` triples as ``Edit``s.
    static func edits(_ value: Any?) -> [Edit] {
        (value as! [[Any]]).map { e in
            let kind: Edit.Kind = e[0] as! String == "SUB" ? .substitution : e[0] as! String == "DEL" ? .deletion : .insertion
            return Edit(kind, position: (e[1] as! NSNumber).intValue, token: (e[2] as? NSNumber).map { Int32($0.intValue) })
        }
    }

    func testAlignmentAndRemainingEditsMatchDLLM() throws {
        let cases = try reference().json["alignment"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 12)
        for (n, c) in cases.enumerated() {
            let (z0, z1, cost) = alignWithBlanks(Self.ints(c["x0"]), Self.ints(c["x1"]))
            XCTAssertEqual(z0, Self.ints(c["z0"]), "case \(n): z0")
            XCTAssertEqual(z1, Self.ints(c["z1"]), "case \(n): z1")
            XCTAssertEqual(cost, c["cost"] as! Int, "case \(n): cost")
            let take = (c["take"] as! [Bool])
            let zt = zip(zip(z0, z1), take).map { $1 ? $0.1 : $0.0 }
            XCTAssertEqual(remainingEdits(zt: zt, z1: z1), Self.edits(c["edits"]), "case \(n): edits")
        }
    }

    /// Textbook Levenshtein distance, written independently of the alignment.
    static func levenshtein(_ a: [Int32], _ b: [Int32]) -> Int {
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    func testAlignmentCostIsLevenshteinAndEditsRebuildX1OnRandomStrings() {
        var rng = SeededGenerator(seed: 2026)
        func string(maxLength: Int, alphabet: Int) -> [Int32] {
            // A unique first token (BOS), as dLLM asserts z0[0] is never blank.
            [0] + (0..<Int(rng.nextUniform() * Double(maxLength + 1))).map { _ in Int32(1 + Int(rng.nextUniform() * Double(alphabet))) }
        }
        for trial in 0..<300 {
            let x0 = string(maxLength: 12, alphabet: trial % 2 == 0 ? 3 : 8)
            let x1 = string(maxLength: 12, alphabet: trial % 2 == 0 ? 3 : 8)
            let (z0, z1, cost) = alignWithBlanks(x0, x1)
            XCTAssertEqual(cost, Self.levenshtein(x0, x1), "trial \(trial): \(x0) → \(x1)")
            XCTAssertEqual(z0.filter { $0 != alignmentBlank }, x0)
            XCTAssertEqual(z1.filter { $0 != alignmentBlank }, x1)
            XCTAssertFalse(zip(z0, z1).contains { $0 == alignmentBlank && $1 == alignmentBlank }, "no blank-blank column")
            XCTAssertEqual(remainingEdits(zt: z0, z1: z1).count, cost, "one edit per unit of cost")
            XCTAssertEqual(applyEdits(remainingEdits(zt: z0, z1: z1), to: x0), x1, "trial \(trial): the edits turn x0 into x1")
            // From any mixture z_t, the remaining edits turn x_t into x1.
            let zt = zip(z0, z1).map { rng.nextUniform() < 0.5 ? $0.1 : $0.0 }
            let xt = zt.filter { $0 != alignmentBlank }
            XCTAssertEqual(applyEdits(remainingEdits(zt: zt, z1: z1), to: xt), x1, "trial \(trial): from z_t")
        }
    }

    func testKappaSchedulesMatchDLLM() throws {
        let kappa = try reference().json["kappa"] as! [String: [String: [Double]]]
        XCTAssertEqual(Set(kappa.keys), ["cubic", "linear", "cosine"])
        for (name, values) in kappa {
            let schedule = KappaSchedule(rawValue: name)!
            for (i, t) in values["t"]!.enumerated() {
                XCTAssertEqual(schedule.kappa(Float(t)), Float(values["kappa"]![i]), accuracy: 1e-6, "\(name) κ(\(t))")
                let w = Float(values["weight"]![i])
                XCTAssertEqual(schedule.weight(Float(t)), w, accuracy: 1e-5 * max(1, abs(w)), "\(name) w(\(t))")
            }
        }
        XCTAssertEqual(KappaSchedule(dLLMName: "CubicKappaScheduler"), .cubic)
        XCTAssertEqual(KappaSchedule(dLLMName: "linearkappascheduler"), .linear)
        XCTAssertEqual(KappaSchedule(dLLMName: "cosine"), .cosine)
        XCTAssertNil(KappaSchedule(dLLMName: "SquareKappaScheduler"))
    }

    func testEditFlowLossAndGradientsMatchDLLM() throws {
        let (file, json) = try reference()
        let cases = json["loss"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 3)
        XCTAssertEqual((cases[0]["x0"] as! [Any]).count, 4)
        let model = try ModelFolder.load(Self.model, as: Float.self).model
        guard let heads = model as? any EditFlowLanguageModel<Float> else { return XCTFail("editflow-llama has no Edit Flows heads") }
        XCTAssertEqual(Set(model.layout.slots.map(\.name)).intersection(EditFlowHeadNames.all), Set(EditFlowHeadNames.all))
        var kinds = Set<String>()
        for c in cases {
            let name = c["schedule"] as! String
            let objective = EditFlowObjective(schedule: KappaSchedule(rawValue: name)!, source: .masks(length: 4), bosTokenID: 1,
                                              maskTokenID: 39, padTokenID: 0)
            let x0 = (c["x0"] as! [Any]).map(Self.ints), x1 = (c["x1"] as! [Any]).map(Self.ints)
            let t = (c["t"] as! [Double]).map(Float.init)
            let uniforms = (c["uniforms"] as! [[Double]])
            let take = zip(uniforms, t).map { u, tb in u.map { Float($0) < objective.schedule.kappa(tb) } }
            let batch = objective.prepare(pairs: Array(zip(x0, x1)).map { (x0: $0.0, x1: $0.1) }, t: t, takeTarget: take)
            let targets = try XCTUnwrap(batch.editFlow)
            let expectedXt = (c["x_t"] as! [Any]).map(Self.ints)
            for (b, row) in targets.rows.enumerated() {
                XCTAssertEqual(Array(batch.inputs.ids[(b * batch.inputs.T)..<(b * batch.inputs.T + row.length)]), expectedXt[b], "\(name) row \(b): x_t")
                XCTAssertEqual(row.edits, Self.edits((c["edits"] as! [Any])[b]), "\(name) row \(b): edits")
                XCTAssertEqual(row.weight, Float((c["weight"] as! [Double])[b]), accuracy: 1e-5 * max(1, row.weight), "\(name) row \(b): w")
                for e in row.edits { kinds.insert("\(e.kind)") }
            }
            model.gradients.zero()
            let loss = EditFlowLoss.forwardBackward(heads.editFlowForward(batch.inputs, mask: batch.mask), targets)
            heads.editFlowBackward()
            let expected = (c["loss"] as! NSNumber).doubleValue
            XCTAssertEqual(loss, expected, accuracy: 1e-5 * max(1, abs(expected)), "\(name): loss")
            for slot in model.layout.slots {
                let reference = try file.floats("\(c["grads"] as! String).grad.\(slot.name)")
                let ours = Array(model.gradients.buffer[slot.range])
                let scale = max(reference.map(abs).max()!, 1e-6)
                let error = zip(ours, reference).map { abs($0 - $1) }.max()! / scale
                XCTAssertLessThan(error, 1e-4, "\(name): gradient of \(slot.name)")
            }
        }
        XCTAssertEqual(kinds, ["substitution", "deletion", "insertion"], "the fixture exercises every edit kind")
    }

    /// x0/x1 from a clean batch: BOS + text for pretraining rows, the leading label −100 run as the prompt for SFT rows.
    func testEndpointsFollowDLLMsCollator() {
        let objective = EditFlowObjective(source: .masks(length: 2), bosTokenID: 1, maskTokenID: 9)
        let batch = CleanBatch(B: 3, T: 5, inputIDs: [5, 6, 7, 8, 0, 1, 5, 6, 7, 8, 1, 4, 5, 6, 0],
                               labels: [5, 6, 7, 8, -100, 1, 5, 6, 7, 8, -100, -100, 5, 6, -100],
                               lengths: [4, 5, 4], sampleIndices: [0, 1, 2])
        XCTAssertEqual(objective.endpoints(batch, row: 0).x1, [1, 5, 6, 7, 8])
        XCTAssertEqual(objective.endpoints(batch, row: 0).x0, [1, 9, 9])
        XCTAssertEqual(objective.endpoints(batch, row: 1).x1, [1, 5, 6, 7, 8], "BOS is not doubled")
        XCTAssertEqual(objective.endpoints(batch, row: 2).x1, [1, 4, 5, 6])
        XCTAssertEqual(objective.endpoints(batch, row: 2).x0, [1, 4, 9, 9], "prompt + masks")
        let empty = EditFlowObjective(source: .empty, bosTokenID: 1)
        XCTAssertEqual(empty.endpoints(batch, row: 0).x0, [1])
        XCTAssertEqual(EditFlowObjective.Source(spec: "masks[length:64]"), .masks(length: 64))
        XCTAssertNil(EditFlowObjective.Source(spec: "masks[length:-1]"))
        // The noise is keyed by (seed, step, sample index): the same row gives the same x_t in any batch.
        let whole = objective.prepare(batch, step: 3, seed: 7)
        let alone = objective.prepare(CleanBatch(B: 1, T: 5, inputIDs: Array(batch.inputIDs[10...]), labels: Array(batch.labels[10...]),
                                                 lengths: [4], sampleIndices: [2]), step: 3, seed: 7)
        let length = alone.editFlow!.rows[0].length
        XCTAssertEqual(whole.editFlow!.rows[2].length, length)
        XCTAssertEqual(Array(whole.inputs.ids[(2 * whole.inputs.T)..<(2 * whole.inputs.T + length)]), Array(alone.inputs.ids[0..<length]))
    }
}
