/// Decodes `Decodable` types from an already parsed ``JSONValue`` (the role of
/// Foundation's `JSONDecoder`, without parsing the text again), so a caller that needs both
/// the tree and typed configurations parses a file once.
///
/// Conversions follow `JSONDecoder`: integers decode into any integer type they fit and
/// into floating-point types; doubles decode into integer types only when exact; `null`
/// or a missing key is `nil` for optionals (`decodeIfPresent`). Failures are
/// `DecodingError`s with the coding path of the offending key.
public struct JSONValueDecoder {
    public var userInfo: [CodingUserInfoKey: Any] = [:]

    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: ValueDecoder(value: value, codingPath: [], userInfo: userInfo))
    }

    /// Parses `bytes` (errors are ``JSONError``s naming `file`) and decodes the value: the
    /// reading half of ``JSONValueEncoder/bytes(_:style:sortedKeys:)``.
    public func decode<T: Decodable, Bytes: Collection>(_ type: T.Type, fromJSON bytes: Bytes, file: String? = nil) throws -> T
    where Bytes.Element == UInt8 {
        try decode(type, from: try JSONParser.parse(bytes, options: .init(file: file)))
    }
}

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch([String: Any].self, value, codingPath) }
        return KeyedDecodingContainer(KeyedContainer<Key>(members: members, codingPath: codingPath, userInfo: userInfo))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch([Any].self, value, codingPath) }
        return UnkeyedContainer(elements: elements, codingPath: codingPath, userInfo: userInfo)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        SingleContainer(value: value, codingPath: codingPath, userInfo: userInfo)
    }
}

private struct IndexKey: CodingKey {
    var stringValue: String { "\(intValue!)" }
    var intValue: Int?
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private func mismatch(_ type: Any.Type, _ value: JSONValue, _ path: [CodingKey]) -> DecodingError {
    if case .null = value {
        return .valueNotFound(type, .init(codingPath: path, debugDescription: "expected \(type), found null"))
    }
    return .typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(type), found \(value.typeName)"))
}

/// Scalar conversions shared by the three containers.
private func decodeScalar<T: Decodable>(_ type: T.Type, _ value: JSONValue, _ path: [CodingKey],
                                        _ userInfo: [CodingUserInfoKey: Any]) throws -> T {
    switch type {
    case is Bool.Type:
        guard case .bool(let b) = value else { throw mismatch(type, value, path) }
        return b as! T
    case is String.Type:
        guard case .string(let s) = value else { throw mismatch(type, value, path) }
        return s as! T
    case is Double.Type:
        guard let d = value.doubleValue else { throw mismatch(type, value, path) }
        return d as! T
    case is Float.Type:
        guard let d = value.doubleValue else { throw mismatch(type, value, path) }
        return Float(d) as! T
    case is Int.Type: return try integer(Int.self, value, path) as! T
    case is Int8.Type: return try integer(Int8.self, value, path) as! T
    case is Int16.Type: return try integer(Int16.self, value, path) as! T
    case is Int32.Type: return try integer(Int32.self, value, path) as! T
    case is Int64.Type: return try integer(Int64.self, value, path) as! T
    case is UInt.Type: return try integer(UInt.self, value, path) as! T
    case is UInt8.Type: return try integer(UInt8.self, value, path) as! T
    case is UInt16.Type: return try integer(UInt16.self, value, path) as! T
    case is UInt32.Type: return try integer(UInt32.self, value, path) as! T
    case is UInt64.Type: return try integer(UInt64.self, value, path) as! T
    default: return try T(from: ValueDecoder(value: value, codingPath: path, userInfo: userInfo))
    }
}

private func integer<I: FixedWidthInteger>(_ type: I.Type, _ value: JSONValue, _ path: [CodingKey]) throws -> I {
    let result: I?
    switch value {
    case .integer(let n): result = I(exactly: n)
    case .bigInteger(let text): result = I(text)
    case .double(let d): result = I(exactly: d)
    default: throw mismatch(type, value, path)
    }
    guard let result else {
        throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "\(value.typeName) does not fit in \(type)"))
    }
    return result
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [(key: String, value: JSONValue)]
    let codingPath: [CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    var allKeys: [Key] { members.compactMap { Key(stringValue: $0.key) } }

    private func find(_ key: Key) -> JSONValue? {
        let name = key.stringValue
        for member in members where member.key.utf8.elementsEqual(name.utf8) { return member.value }
        return nil
    }

    private func require(_ key: Key) throws -> JSONValue {
        guard let value = find(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no key \"\(key.stringValue)\""))
        }
        return value
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { try require(key).isNull }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decodeScalar(type, try require(key), codingPath + [key], userInfo)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = find(key), !value.isNull else { return nil }
        return try decodeScalar(type, value, codingPath + [key], userInfo)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try ValueDecoder(value: try require(key), codingPath: codingPath + [key], userInfo: userInfo).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try ValueDecoder(value: try require(key), codingPath: codingPath + [key], userInfo: userInfo).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder {
        ValueDecoder(value: .object(members), codingPath: codingPath, userInfo: userInfo)
    }

    func superDecoder(forKey key: Key) throws -> Decoder {
        ValueDecoder(value: find(key) ?? .null, codingPath: codingPath + [key], userInfo: userInfo)
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [CodingKey]
    let userInfo: [CodingUserInfoKey: Any]
    var currentIndex = 0

    init(elements: [JSONValue], codingPath: [CodingKey], userInfo: [CodingUserInfoKey: Any]) {
        self.elements = elements
        self.codingPath = codingPath
        self.userInfo = userInfo
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next(_ type: Any.Type) throws -> (JSONValue, [CodingKey]) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [IndexKey(currentIndex)],
                                                          debugDescription: "the array has only \(elements.count) elements"))
        }
        defer { currentIndex += 1 }
        return (elements[currentIndex], codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, elements[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (value, path) = try next(type)
        return try decodeScalar(type, value, path, userInfo)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (value, path) = try next([String: Any].self)
        return try ValueDecoder(value: value, codingPath: path, userInfo: userInfo).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        let (value, path) = try next([Any].self)
        return try ValueDecoder(value: value, codingPath: path, userInfo: userInfo).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder {
        let (value, path) = try next(Any.self)
        return ValueDecoder(value: value, codingPath: path, userInfo: userInfo)
    }
}

private struct SingleContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    func decodeNil() -> Bool { value.isNull }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeScalar(type, value, codingPath, userInfo) }
}
