import DLLMCompute

/// Builds a ``FrozenLlamaBase`` one matrix at a time: each block matrix (and, with `tables`, the
/// embedding and an untied head) is quantised into `target` as it is handed over, so a loader can
/// read a tensor into a small scratch, quantise it and drop the float values before the next one:
/// the model's fp32 slots for these matrices are never filled (docs/qlora.md).
final class FrozenLlamaBaseBuilder {
    enum Destination {
        case layer(Int, WritableKeyPath<FrozenLlamaBase.Layer, FrozenQuantizedMatrix?>)
        case embedding, head
    }

    let target: FrozenQuantizedMatrix.QuantizeTarget
    let tiedHead: Bool
    /// Flat-buffer offset of a matrix's fp32 slot → where its quantised form goes.
    let destinations: [Int: Destination]
    private var layers: [FrozenLlamaBase.Layer]
    private var embedding: FrozenQuantizedMatrix?, head: FrozenQuantizedMatrix?

    init(model: LlamaModel<Float>, target: FrozenQuantizedMatrix.QuantizeTarget, tables: Bool) {
        self.target = target
        tiedHead = model.spec.tiedEmbeddings
        var destinations: [Int: Destination] = [:]
        for (l, w) in model.offsets.layers.enumerated() {
            destinations[w.q] = .layer(l, \.q); destinations[w.k] = .layer(l, \.k)
            destinations[w.v] = .layer(l, \.v); destinations[w.o] = .layer(l, \.o)
            // A sparse MoE MLP reads its experts from the flat buffer.
            if w.moe == nil {
                destinations[w.gate] = .layer(l, \.gate); destinations[w.up] = .layer(l, \.up); destinations[w.down] = .layer(l, \.down)
            }
        }
        if tables {
            destinations[model.offsets.embedding] = .embedding
            if !tiedHead { destinations[model.offsets.head] = .head }
        }
        self.destinations = destinations
        layers = Array(repeating: FrozenLlamaBase.Layer(), count: model.spec.layers)
    }

    /// True when `slot` is one of the matrices the frozen base holds.
    func takes(_ slot: TensorSlot) -> Bool { slot.shape.count == 2 && destinations[slot.offset] != nil }

    /// Quantises `slot`'s values (row-major, `slot.shape`) into its place in the base.
    func add(_ slot: TensorSlot, _ values: UnsafePointer<Float>) throws {
        guard let destination = destinations[slot.offset] else { preconditionFailure("FrozenLlamaBaseBuilder: \(slot.name) is not a base matrix") }
        let matrix = try FrozenQuantizedMatrix.quantizing(values, rows: slot.shape[0], cols: slot.shape[1], as: target, name: slot.name)
        switch destination {
        case let .layer(l, path): layers[l][keyPath: path] = matrix
        case .embedding: embedding = matrix
        case .head: head = matrix
        }
    }

    /// The base built so far; a tied head is the embedding.
    var base: FrozenLlamaBase {
        FrozenLlamaBase(layers: layers, embedding: embedding, head: tiedHead ? embedding : head)
    }
}
