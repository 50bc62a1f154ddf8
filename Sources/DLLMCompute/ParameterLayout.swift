import RealModule
/// One named tensor inside a flat parameter buffer.
public struct TensorSlot: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
}

/// The llm.c layout: every parameter lives in one allocation, in a fixed order, with
/// named views into it. Gradients and the optimizer's moments reuse the same layout,
/// so an optimizer is one loop over `0..<count` and a shard is a slice.
public struct ParameterLayout: Sendable, Equatable {
    public private(set) var slots: [TensorSlot] = []
    private var index: [String: Int] = [:]
    public private(set) var count: Int = 0
    /// Tensors without storage of their own (tied weights); see `tie(_:to:)`.
    public internal(set) var ties: [TiedTensor] = []

    public init() {}

    public init(_ tensors: [(name: String, shape: [Int])]) {
        for t in tensors { append(t.name, t.shape) }
    }

    /// Adds a tensor at the end; returns its offset.
    @discardableResult
    public mutating func append(_ name: String, _ shape: [Int]) -> Int {
        precondition(index[name] == nil, "ParameterLayout: duplicate tensor \(name)")
        precondition(shape.allSatisfy { $0 >= 0 }, "ParameterLayout: negative dimension in \(name)")
        let slot = TensorSlot(name: name, shape: shape, offset: count)
        index[name] = slots.count
        slots.append(slot)
        count += slot.count
        return slot.offset
    }

    public func slot(_ name: String) -> TensorSlot? { index[name].map { slots[$0] } }

    /// The offset of a tensor that must exist (a programmer invariant, not user input).
    public func offset(_ name: String) -> Int {
        guard let slot = slot(name) else { preconditionFailure("ParameterLayout: no tensor \(name)") }
        return slot.offset
    }

    public var names: [String] { slots.map(\.name) }
}
