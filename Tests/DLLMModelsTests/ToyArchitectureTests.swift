import DLLMCompute
import DLLMModels
import Foundation
import XCTest

// A whole architecture registered from this one file: its `config.json` type, its description and
// its model, then loaded through `ModelFolder` exactly as dllm's own architectures are.

/// `config.json` of the toy: `{"model_type": "toy-bigram", "vocab_size": V, ...}`.
struct ToyBigramConfiguration: ModelConfiguration, ModelArchitecture, Codable {
    var vocabSize: Int
    var maxPositions: Int?
    var initializerRange: Double?
    var maskTokenID: Int?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", maxPositions = "max_positions"
        case initializerRange = "initializer_range", maskTokenID = "mask_token_id"
    }

    var modelType: String { "toy-bigram" }

    func architecture(path: String) throws -> any ModelArchitecture {
        guard vocabSize > 0 else { throw ModelError.invalidValue(key: "vocab_size", value: "\(vocabSize)", reason: "must be positive", path: path) }
        return self
    }

    func makeModel<S: ComputeScalar>(as _: S.Type) -> any LanguageModel<S> { ToyBigramModel<S>(config: self) }

    func initialStandardDeviation(of name: String) -> Double { initializerRange ?? 0.02 }
}

/// A bigram language model: `logits[n] = table[ids[n]] + bias`, (N, V). The same forward serves
/// training and inference (it has no keys or values, so the cache only sizes the batch).
final class ToyBigramModel<S: ComputeScalar>: LanguageModel {
    typealias Scalar = S
    let config: ToyBigramConfiguration
    let layout: ParameterLayout
    let parameters: Buffer<S>
    let gradients: Buffer<S>
    let table: Int, bias: Int
    var hooks: BlockHooks?
    private var output = Buffer<S>(count: 0), lse = Buffer<S>(count: 0), losses = Buffer<S>(count: 0)
    private var lastIDs: [Int32] = []

    var architecture: any ModelArchitecture { config }
    var vocabularySize: Int { config.vocabSize }
    var maxPositions: Int { config.maxPositions ?? 64 }
    var blockRanges: [Range<Int>] { [0..<layout.count] }
    var logits: UnsafeMutablePointer<S> { output.pointer }

    init(config: ToyBigramConfiguration) {
        self.config = config
        var layout = ParameterLayout()
        table = layout.append("bigram.weight", [config.vocabSize, config.vocabSize])
        bias = layout.append("bigram.bias", [config.vocabSize])
        self.layout = layout
        parameters = Buffer(count: layout.count)
        gradients = Buffer(count: layout.count)
    }

    /// The one forward: logits of `ids` into `output`.
    private func run(_ ids: [Int32]) {
        let N = ids.count, V = config.vocabSize, p = parameters.pointer
        if output.count < N * V { output = Buffer(count: N * V) }
        ids.withUnsafeBufferPointer { embeddingForward(output.pointer, $0.baseAddress!, p + table, N: N, C: V, V: V) }
        for n in 0..<N {
            for v in 0..<V { output.pointer[n * V + v] += p[bias + v] }
        }
    }

    func forward(_ batch: TokenBatch, mask: AttentionMask) {
        lastIDs = batch.ids
        run(batch.ids)
    }

    func loss(targets: [Int32], weights: [S]?) -> Double {
        let N = lastIDs.count
        lse = Buffer(count: N)
        losses = Buffer(count: N)
        return targets.withUnsafeBufferPointer { t in
            withWeights(weights) { crossEntropyForward(losses.pointer, lse.pointer, output.pointer, t.baseAddress!, $0, N: N, V: config.vocabSize) }
        }
    }

    func backward(targets: [Int32], weights: [S]?, dloss: S) {
        let N = lastIDs.count, V = config.vocabSize, g = gradients.pointer
        targets.withUnsafeBufferPointer { t in
            withWeights(weights) { crossEntropyBackward(output.pointer, output.pointer, lse.pointer, t.baseAddress!, $0, dloss: dloss, N: N, V: V) }
        }
        lastIDs.withUnsafeBufferPointer { embeddingBackward(g + table, output.pointer, $0.baseAddress!, N: N, C: V) }
        for n in 0..<N {
            for v in 0..<V { g[bias + v] += output.pointer[n * V + v] }
        }
    }

    private func withWeights<R>(_ weights: [S]?, _ body: (UnsafePointer<S>?) -> R) -> R {
        guard let weights else { return body(nil) }
        return weights.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    func makeCache(batch: Int, capacity: Int) -> KVCache<S> { KVCache(layers: 1, batch: batch, capacity: capacity, width: 1) }

    func inferenceForward(_ step: InferenceStep, cache: KVCache<S>) -> UnsafeMutablePointer<S> {
        let ids = step.logitRows.map { rows in rows.map { step.ids[$0] } } ?? step.ids
        run(ids)
        return output.pointer
    }
}

final class ToyArchitectureTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        ModelRegistry.register("toy-bigram", configuration: ToyBigramConfiguration.self)
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-toy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func writeConfig(_ text: String) throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent("config.json"))
    }

    func testRegisteredArchitectureLoadsTrainsAndRunsInferenceThroughModelFolder() throws {
        try writeConfig(#"{"model_type": "toy-bigram", "vocab_size": 6, "initializer_range": 0.5, "mask_token_id": 5}"#)
        let loaded = try ModelFolder.load(folder, as: Double.self, seed: 11)
        XCTAssertTrue(loaded.randomlyInitialized)
        let model = loaded.model
        XCTAssertTrue(model is ToyBigramModel<Double>)
        XCTAssertEqual(model.architecture.maskTokenID, 5)
        XCTAssertTrue(ModelRegistry.supportedTypes.contains("toy-bigram"))

        // Initialisation followed the architecture: biases 0, the table drawn with σ = 0.5.
        let p = model.parameters.pointer
        let bias = model.layout.slot("bigram.bias")!, table = model.layout.slot("bigram.weight")!
        XCTAssertEqual(bias.range.map { p[$0] }, [Double](repeating: 0, count: 6))
        let values = table.range.map { p[$0] }
        let std = (values.map { $0 * $0 }.reduce(0, +) / Double(values.count)).squareRoot()
        XCTAssertGreaterThan(std, 0.3)
        XCTAssertLessThan(std, 0.7)
        for i in bias.range { p[i] = Double(i - bias.offset) / 10 }

        // Training forward: each row is the table row of its token plus the bias.
        let ids: [Int32] = [0, 3, 5, 1]
        model.forward(TokenBatch(ids: ids, B: 2, T: 2), mask: AttentionMask(.bidirectional, B: 2, T: 2))
        for (n, id) in ids.enumerated() {
            for v in 0..<6 {
                XCTAssertEqual(model.logits[n * 6 + v], p[table.offset + Int(id) * 6 + v] + p[bias.offset + v])
            }
        }
        let forwardLogits = Array(UnsafeBufferPointer(start: model.logits, count: ids.count * 6))

        // Inference through the same view every loader uses, with and without a row subset.
        let inference = inferenceModel(model)
        XCTAssertEqual(inference.bidirectionalLogits(ids: ids, B: 2, T: 2), forwardLogits)
        let cache = inference.makeCache(batch: 2, capacity: 2)
        let rows = inference.inferenceForward(.full(ids: ids, B: 2, T: 2, lengths: [2, 2], logitRows: [2]), cache: cache)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: rows, count: 6)), Array(forwardLogits[12..<18]))

        // A few gradient steps lower the loss.
        let targets: [Int32] = [3, 5, 1, 0]
        let batch = TokenBatch(ids: ids, B: 2, T: 2), mask = AttentionMask(.bidirectional, B: 2, T: 2)
        var losses: [Double] = []
        for _ in 0..<3 {
            model.gradients.zero()
            losses.append(model.forwardBackward(batch, mask: mask, targets: targets, weights: nil))
            for i in 0..<model.parameterCount { p[i] -= 0.5 * model.gradients[i] }
        }
        XCTAssertLessThan(losses[2], losses[0])

        // Saved and loaded back through the same path, with weights this time.
        try ModelFolder.save(model, config: loaded.configJSON, to: folder)
        let reloaded = try ModelFolder.load(folder, as: Double.self)
        XCTAssertFalse(reloaded.randomlyInitialized)
        XCTAssertEqual((0..<model.parameterCount).map { reloaded.model.parameters[$0] },
                       (0..<model.parameterCount).map { Double(Float(p[$0])) })
    }

    /// An alias is decoded by its base type's entry, as if the file named the base type.
    func testAliasLoadsAsItsBaseType() throws {
        ModelRegistry.register("toy-bigram-alias", .alias(of: "toy-bigram"))
        try writeConfig(#"{"model_type": "toy-bigram-alias", "vocab_size": 4}"#)
        let model = try ModelFolder.load(folder, as: Float.self).model
        XCTAssertTrue(model is ToyBigramModel<Float>)
        XCTAssertEqual(model.architecture.modelType, "toy-bigram")
        XCTAssertEqual(model.vocabularySize, 4)
        ModelRegistry.register("toy-orphan", .alias(of: "toy-missing"))
        try writeConfig(#"{"model_type": "toy-orphan", "vocab_size": 4}"#)
        XCTAssertThrowsError(try ModelFolder.load(folder, as: Float.self)) { error in
            XCTAssertTrue("\(error)".contains("model_type \"toy-missing\" is not supported"), "\(error)")
        }
    }

    func testConfigErrorsNameTheKeyAndTheFile() throws {
        try writeConfig(#"{"model_type": "toy-bigram", "vocab_size": "six"}"#)
        XCTAssertThrowsError(try ModelFolder.load(folder, as: Float.self)) { error in
            XCTAssertTrue("\(error)".contains("vocab_size"), "\(error)")
            XCTAssertTrue("\(error)".contains("config.json"), "\(error)")
        }
        try writeConfig(#"{"model_type": "toy-bigram", "vocab_size": 0}"#)
        XCTAssertThrowsError(try ModelFolder.load(folder, as: Float.self)) { error in
            XCTAssertTrue("\(error)".contains("key \"vocab_size\" = 0 is invalid"), "\(error)")
        }
        try writeConfig(#"{"model_type": "toy-trigram", "vocab_size": 6}"#)
        XCTAssertThrowsError(try ModelFolder.load(folder, as: Float.self)) { error in
            XCTAssertTrue("\(error)".contains("model_type \"toy-trigram\" is not supported"), "\(error)")
            XCTAssertTrue("\(error)".contains("toy-bigram"), "\(error)")
        }
    }
}
