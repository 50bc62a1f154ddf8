/// An Arrow column type, as far as this reader needs to know it (`Schema.fbs`, union `Type`).
public indirect enum ArrowType: Equatable, Sendable, CustomStringConvertible {
    case null
    case bool
    case int(bitWidth: Int, signed: Bool)
    /// `precision`: 0 half, 1 single, 2 double.
    case floatingPoint(precision: Int)
    case utf8
    case largeUtf8
    case list(ArrowField)
    case largeList(ArrowField)
    case fixedSizeList(ArrowField, size: Int)
    case structType([ArrowField])
    /// A type the reader recognises but does not decode, with its pyarrow-style name.
    case unsupported(String)

    /// The type named as pyarrow prints it (`int64`, `string`, `list<item: int32>`, …).
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case let .int(bits, signed): return (signed ? "int" : "uint") + String(bits)
        case let .floatingPoint(p): return p == 0 ? "halffloat" : p == 1 ? "float" : "double"
        case .utf8: return "string"
        case .largeUtf8: return "large_string"
        case let .list(child): return "list<\(child.name): \(child.type)>"
        case let .largeList(child): return "large_list<\(child.name): \(child.type)>"
        case let .fixedSizeList(child, size): return "fixed_size_list<\(child.name): \(child.type)>[\(size)]"
        case let .structType(children):
            return "struct<" + children.map { "\($0.name): \($0.type)" }.joined(separator: ", ") + ">"
        case let .unsupported(name): return name
        }
    }

    /// The first unsupported type inside this one, with the dotted path to it.
    func firstUnsupported(path: String) -> (path: String, type: String)? {
        switch self {
        case let .unsupported(name): return (path, name)
        case let .list(child), let .largeList(child), let .fixedSizeList(child, _):
            return child.type.firstUnsupported(path: path + "." + child.name)
        case let .structType(children):
            for child in children {
                if let found = child.type.firstUnsupported(path: path + "." + child.name) { return found }
            }
            return nil
        case .floatingPoint(0): return (path, "halffloat")
        default: return nil
        }
    }
}

/// One column (or nested child) of an Arrow schema.
public struct ArrowField: Equatable, Sendable {
    public var name: String
    public var nullable: Bool
    public var type: ArrowType

    public init(name: String, nullable: Bool = true, type: ArrowType) {
        self.name = name
        self.nullable = nullable
        self.type = type
    }
}

enum ArrowSchemaParser {
    static let maximumNesting = 32

    /// Field table: name(0), nullable(1), type_type(2), type(3), dictionary(4), children(5).
    static func field(_ table: FlatTable, depth: Int, file: String) throws -> ArrowField {
        guard depth <= maximumNesting else { throw FlatBufferError(detail: "fields nested deeper than \(maximumNesting) levels") }
        let name = try table.string(0) ?? ""
        let nullable = try table.bool(1, default: false)
        if try table.table(4) != nil {
            throw ArrowError.unsupportedFeature(file: file, detail: "dictionary encoding (column '\(name)')")
        }
        let typeID = try table.scalar(2, UInt8.self, default: 0)
        let typeTable = try table.table(3)
        let children = try table.tables(5).map { try field($0, depth: depth + 1, file: file) }
        func onlyChild() throws -> ArrowField {
            guard children.count == 1 else {
                throw FlatBufferError(detail: "list column '\(name)' has \(children.count) children instead of 1")
            }
            return children[0]
        }
        let type: ArrowType
        switch typeID {
        case 1: type = .null
        case 2:
            let bits = Int(try typeTable?.scalar(0, Int32.self, default: 0) ?? 0)
            let signed = try typeTable?.bool(1, default: false) ?? false
            guard [8, 16, 32, 64].contains(bits) else {
                throw FlatBufferError(detail: "integer column '\(name)' has bit width \(bits)")
            }
            type = .int(bitWidth: bits, signed: signed)
        case 3:
            let precision = Int(try typeTable?.scalar(0, Int16.self, default: 0) ?? 0)
            guard (0...2).contains(precision) else {
                throw FlatBufferError(detail: "float column '\(name)' has precision \(precision)")
            }
            type = .floatingPoint(precision: precision)
        case 4: type = .unsupported("binary")
        case 5: type = .utf8
        case 6: type = .bool
        case 7: type = .unsupported("decimal")
        case 8: type = .unsupported("date")
        case 9: type = .unsupported("time")
        case 10: type = .unsupported("timestamp")
        case 11: type = .unsupported("interval")
        case 12: type = .list(try onlyChild())
        case 13: type = .structType(children)
        case 14: type = .unsupported("union")
        case 15: type = .unsupported("fixed_size_binary")
        case 16:
            let size = Int(try typeTable?.scalar(0, Int32.self, default: 0) ?? 0)
            guard size >= 0 else { throw FlatBufferError(detail: "fixed_size_list column '\(name)' has size \(size)") }
            type = .fixedSizeList(try onlyChild(), size: size)
        case 17: type = .unsupported("map")
        case 18: type = .unsupported("duration")
        case 19: type = .unsupported("large_binary")
        case 20: type = .largeUtf8
        case 21: type = .largeList(try onlyChild())
        case 22: type = .unsupported("run_end_encoded")
        case 23: type = .unsupported("binary_view")
        case 24: type = .unsupported("string_view")
        case 25: type = .unsupported("list_view")
        case 26: type = .unsupported("large_list_view")
        default: throw FlatBufferError(detail: "column '\(name)' has unknown type id \(typeID)")
        }
        return ArrowField(name: name, nullable: nullable, type: type)
    }

    /// Schema table: endianness(0), fields(1), custom_metadata(2), features(3).
    static func schema(_ table: FlatTable, file: String) throws -> [ArrowField] {
        let endianness = try table.scalar(0, Int16.self, default: 0)
        if endianness != 0 { throw ArrowError.unsupportedFeature(file: file, detail: "big-endian data") }
        return try table.tables(1).map { try field($0, depth: 0, file: file) }
    }
}
