import DLLMCheckpoint
import DLLMCompute
import DLLMModels
@testable import DLLMTraining
import Foundation
import XCTest

/// Dream's training recipe (dLLM `DreamTrainer`: right-shifted logits, BOS prepended, CART weights)
/// against the PyTorch transcription of Tests/Fixtures/generate_dream.py, through the tiny Dream
/// checkpoint: the CART weights, the targets and weights the objective builds, the loss and every gradient.
final class DreamObjectiveTests: XCTestCase {
    static let dream = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DLLMModelsTests/Fixtures/dream")

    struct Case {
        let file: SafeTensorsFile
        let B: Int, T: Int
        let objective: MaskedDiffusionObjective
        let clean: CleanBatch
        let t: [Double]
        let masked: [Bool]   // (B, T + 1), after BOS
    }

    func load(geometricP: Double = 0.3) throws -> Case {
        let file = try SafeTensorsFile(contentsOf: Self.dream.appendingPathComponent("reference.safetensors"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.dream.appendingPathComponent("reference.json"))) as! [String: Any]
        let B = json["batch"] as! Int, T = (json["seq_len"] as! Int) - 1
        let clean = CleanBatch(B: B, T: T, inputIDs: try file.int64s("clean_input_ids").map { Int32($0) },
                               labels: try file.int64s("labels").map { Int32($0) }, sampleIndices: Array(0..<B))
        let objective = MaskedDiffusionObjective(maskTokenID: Int32(json["mask_token_id"] as! Int), weighting: .cart, normalization: .token,
                                                 shift: true, bosTokenID: Int32(json["bos_token_id"] as! Int), cartGeometricP: geometricP)
        return Case(file: file, B: B, T: T, objective: objective, clean: clean, t: try file.doubles("t"),
                    masked: try file.int64s("masked").map { $0 != 0 })
    }

    func testCARTWeightsEqualDLLMsCartWeight() throws {
        let c = try load()
        for (p, key) in [(0.3, "cart_weights"), (0.5, "cart_weights_p0.5")] {
            let ours = MaskedDiffusionObjective.cartWeights(masked: c.masked, B: c.B, T: c.T + 1, geometricP: p)
            let reference = try c.file.floats(key)
            XCTAssertEqual(ours.count, reference.count)
            for (a, b) in zip(ours, reference) { XCTAssertEqual(a, b, accuracy: 1e-6 * max(1, abs(b)), "p = \(p)") }
            XCTAssertTrue(zip(ours, c.masked).allSatisfy { $1 || $0 == 0 }, "unmasked positions weigh nothing")
            XCTAssertTrue(zip(ours, c.masked).contains { $1 && $0 > 0 })
        }
    }

    func testShiftedCARTLossAndGradientsMatchPyTorch() throws {
        let c = try load()
        let withBOS = MaskedDiffusionObjective.prependingBOS(c.clean, bos: c.objective.bosTokenID!)
        XCTAssertEqual(withBOS.T, c.T + 1)
        let prepared = c.objective.prepare(withBOS, t: c.t, masked: c.masked)
        XCTAssertEqual(prepared.inputs.ids, try c.file.int64s("input_ids").map { Int32($0) })
        XCTAssertEqual(prepared.targets, try c.file.int64s("targets").map { Int32($0) })
        let referenceWeights = try c.file.floats("weights")
        for (a, b) in zip(prepared.weights, referenceWeights) { XCTAssertEqual(a, b, accuracy: 1e-6 * max(1, abs(b))) }

        let model = try ModelFolder.load(Self.dream, as: Float.self).model
        model.gradients.zero()
        let loss = model.forwardBackward(prepared.inputs, mask: prepared.mask, targets: prepared.targets, weights: prepared.weights)
        let expected = Double(try c.file.floats("loss")[0])
        XCTAssertEqual(loss, expected, accuracy: 1e-5 * abs(expected))
        for slot in model.layout.slots {
            let reference = try c.file.floats("grad.\(slot.name)")
            let ours = Array(model.gradients.buffer[slot.range])
            let scale = max(reference.map(abs).max()!, 1e-12)
            XCTAssertLessThan(zip(ours, reference).map { abs($0 - $1) }.max()! / scale, 1e-4, "gradient of \(slot.name)")
        }
    }

    func testCARTChangesTheLoss() throws {
        // The same batch under the default scheduler weighting gives another loss: the weights matter.
        let c = try load()
        let withBOS = MaskedDiffusionObjective.prependingBOS(c.clean, bos: c.objective.bosTokenID!)
        var plain = c.objective
        plain.weighting = .scheduler
        let a = c.objective.prepare(withBOS, t: c.t, masked: c.masked), b = plain.prepare(withBOS, t: c.t, masked: c.masked)
        XCTAssertEqual(a.targets, b.targets)
        XCTAssertNotEqual(a.weights, b.weights)
    }
}
