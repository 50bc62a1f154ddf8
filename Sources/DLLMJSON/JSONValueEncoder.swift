/// Encodes `Encodable` types into a ``JSONValue`` (the role of Foundation's `JSONEncoder`),
/// the writing half of ``JSONValueDecoder``: the package's state files (`trainer_state.json`,
/// `sharding.json`, `summary.json`, token-shard manifests, …) are written and read through
/// the one JSON module.
///
/// - Object members keep the order in which they were encoded (a synthesized `encode(to:)`
///   follows the declaration order); encoding a key twice replaces its value in place, as
///   `JSONEncoder` does. ``bytes(_:style:sortedKeys:)`` sorts them on request.
/// - Integers stay integers (``JSONValue/integer(_:)``; a `UInt64` above `Int64.max` is a
///   ``JSONValue/bigInteger(_:)``), doubles stay doubles: `1.0` is written `1.0`, not `1`.
///   A `Float` is widened exactly to a `Double`, so it reads back bit for bit.
/// - `nil` optionals are left out (`encodeIfPresent`), as with `JSONEncoder`.
/// - NaN and infinities, which JSON cannot hold, are refused with
///   `EncodingError.invalidValue` naming the coding path (`JSONEncoder`'s default).
/// - A value that encodes nothing is an empty object `{}`.
///
/// Foundation's `Data` has no special case here (this module imports only the standard
/// library): a type that stores `Data` encodes it itself (see `TrainerState`).
public struct JSONValueEncoder {
    public var userInfo: [CodingUserInfoKey: Any] = [:]

    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        try encodeValue(value, codingPath: [], userInfo: userInfo).json
    }

    /// The JSON text of `value` (``JSONWriter``'s output; `.indented(2)` is Python's
    /// `json.dumps(indent=2)` layout).
    public func bytes<T: Encodable>(_ value: T, style: JSONWriter.Style = .compact, sortedKeys: Bool = false) throws -> [UInt8] {
        JSONWriter.bytes(try encode(value), style: style, sortedKeys: sortedKeys)
    }
}

// MARK: The tree being built

/// One value under construction; containers hold their children by reference so a nested
/// container keeps writing into its parent after it was handed out.
private final class EncodingNode {
    enum Content {
        case unset
        case value(JSONValue)
        case object(ObjectMembers)
        case array([EncodingNode])
    }

    var content: Content = .unset

    init() {}
    init(_ value: JSONValue) { content = .value(value) }

    var json: JSONValue {
        switch content {
        case .unset: return .object([])
        case .value(let value): return value
        case .object(let members): return .object(members.entries.map { ($0.key, $0.node.json) })
        case .array(let elements): return .array(elements.map(\.json))
        }
    }

    /// The members of this node, which becomes an object if it was not one.
    func objectMembers() -> ObjectMembers {
        if case .object(let members) = content { return members }
        let members = ObjectMembers()
        content = .object(members)
        return members
    }

    /// The elements of this node, which becomes an array if it was not one.
    func appendElement(_ element: EncodingNode) {
        if case .array(var elements) = content {
            content = .unset  // keeps `elements` uniquely referenced while appending
            elements.append(element)
            content = .array(elements)
        } else {
            content = .array([element])
        }
    }

    var elementCount: Int { if case .array(let elements) = content { return elements.count } else { return 0 } }
}

/// Members in insertion order, with an index by the key's UTF-8 bytes (never by Swift's
/// canonical string equivalence, as everywhere in this module).
private final class ObjectMembers {
    var entries: [(key: String, node: EncodingNode)] = []
    private var index: [[UInt8]: Int] = [:]

    func set(_ key: String, _ node: EncodingNode) {
        let bytes = Array(key.utf8)
        if let at = index[bytes] {
            entries[at].node = node
        } else {
            index[bytes] = entries.count
            entries.append((key, node))
        }
    }

    func existing(_ key: String) -> EncodingNode? { index[Array(key.utf8)].map { entries[$0].node } }
}

private struct IndexKey: CodingKey {
    var stringValue: String { "\(intValue!)" }
    var intValue: Int?
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct SuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}

// MARK: Values

/// Scalars become leaves directly; anything else encodes itself into a fresh node.
private func encodeValue<T: Encodable>(_ value: T, codingPath: [CodingKey],
                                       userInfo: [CodingUserInfoKey: Any]) throws -> EncodingNode {
    if let scalar = try scalarJSON(value, codingPath) { return EncodingNode(scalar) }
    let node = EncodingNode()
    try value.encode(to: ValueEncoder(node: node, codingPath: codingPath, userInfo: userInfo))
    return node
}

private func scalarJSON<T>(_ value: T, _ path: [CodingKey]) throws -> JSONValue? {
    switch value {
    case let v as Bool: return .bool(v)
    case let v as String: return .string(v)
    case let v as Double: return try finite(v, path)
    case let v as Float: return try finite(Double(v), path)
    case let v as Int: return .integer(Int64(v))
    case let v as Int8: return .integer(Int64(v))
    case let v as Int16: return .integer(Int64(v))
    case let v as Int32: return .integer(Int64(v))
    case let v as Int64: return .integer(v)
    case let v as UInt: return unsigned(UInt64(v))
    case let v as UInt8: return .integer(Int64(v))
    case let v as UInt16: return .integer(Int64(v))
    case let v as UInt32: return .integer(Int64(v))
    case let v as UInt64: return unsigned(v)
    default: return nil
    }
}

private func unsigned(_ v: UInt64) -> JSONValue { Int64(exactly: v).map(JSONValue.integer) ?? .bigInteger(String(v)) }

private func finite(_ v: Double, _ path: [CodingKey]) throws -> JSONValue {
    guard v.isFinite else {
        throw EncodingError.invalidValue(v, .init(codingPath: path, debugDescription: "\(v) is not a JSON number"))
    }
    return .double(v)
}

// MARK: Encoder and containers

private struct ValueEncoder: Encoder {
    let node: EncodingNode
    let codingPath: [CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedContainer<Key>(members: node.objectMembers(), codingPath: codingPath, userInfo: userInfo))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .array = node.content {} else { node.content = .array([]) }
        return UnkeyedContainer(node: node, codingPath: codingPath, userInfo: userInfo)
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        SingleContainer(node: node, codingPath: codingPath, userInfo: userInfo)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let members: ObjectMembers
    let codingPath: [CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    mutating func encodeNil(forKey key: Key) throws { members.set(key.stringValue, EncodingNode(.null)) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        members.set(key.stringValue, try encodeValue(value, codingPath: codingPath + [key], userInfo: userInfo))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let node = child(key)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(members: node.objectMembers(), codingPath: codingPath + [key],
                                                                userInfo: userInfo))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        ValueEncoder(node: child(key), codingPath: codingPath + [key], userInfo: userInfo).unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder {
        ValueEncoder(node: child(SuperKey()), codingPath: codingPath + [SuperKey()], userInfo: userInfo)
    }

    mutating func superEncoder(forKey key: Key) -> Encoder {
        ValueEncoder(node: child(key), codingPath: codingPath + [key], userInfo: userInfo)
    }

    /// The node at `key`, reused when a container was already opened there.
    private func child(_ key: CodingKey) -> EncodingNode {
        if let node = members.existing(key.stringValue) { return node }
        let node = EncodingNode()
        members.set(key.stringValue, node)
        return node
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: EncodingNode
    let codingPath: [CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    var count: Int { node.elementCount }

    private var nextPath: [CodingKey] { codingPath + [IndexKey(count)] }

    mutating func encodeNil() throws { node.appendElement(EncodingNode(.null)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        node.appendElement(try encodeValue(value, codingPath: nextPath, userInfo: userInfo))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath, child = EncodingNode()
        node.appendElement(child)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(members: child.objectMembers(), codingPath: path, userInfo: userInfo))
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        let path = nextPath, child = EncodingNode()
        node.appendElement(child)
        return ValueEncoder(node: child, codingPath: path, userInfo: userInfo).unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder {
        let path = nextPath, child = EncodingNode()
        node.appendElement(child)
        return ValueEncoder(node: child, codingPath: path, userInfo: userInfo)
    }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let node: EncodingNode
    let codingPath: [CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    mutating func encodeNil() throws { node.content = .value(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        node.content = try encodeValue(value, codingPath: codingPath, userInfo: userInfo).content
    }
}
