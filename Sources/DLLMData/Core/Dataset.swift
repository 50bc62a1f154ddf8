/// An in-memory table of rows: one split of a dataset (the role of `datasets.Dataset`).
public struct Dataset: Sendable, Equatable {
    public var rows: [DataRow]
    /// Where the rows came from (a path or a spec), for messages.
    public var source: String
    /// Rows the loader skipped because their document was empty (blank text lines).
    public var skippedEmptyRows: Int

    public init(rows: [DataRow], source: String, skippedEmptyRows: Int = 0) {
        self.rows = rows
        self.source = source
        self.skippedEmptyRows = skippedEmptyRows
    }

    public var count: Int { rows.count }

    /// Every field name that occurs in some row, sorted.
    public var columnNames: [String] {
        var names = Set<String>()
        for row in rows { names.formUnion(row.values.keys) }
        return names.sorted()
    }

    /// The first `n` rows (all when `n` exceeds the count), like `Dataset.select(range(n))`.
    public func prefix(_ n: Int) -> Dataset {
        Dataset(rows: Array(rows.prefix(max(0, n))), source: source, skippedEmptyRows: skippedEmptyRows)
    }

    /// Rows `range` (clamped to the available rows).
    public func slice(_ range: Range<Int>) -> Dataset {
        let lower = min(max(0, range.lowerBound), rows.count)
        let upper = min(max(lower, range.upperBound), rows.count)
        return Dataset(rows: Array(rows[lower..<upper]), source: source, skippedEmptyRows: skippedEmptyRows)
    }

    /// The concatenation of `self` and `other` (`datasets.concatenate_datasets`).
    public func appending(_ other: Dataset) -> Dataset {
        Dataset(rows: rows + other.rows, source: source == other.source ? source : "\(source) + \(other.source)",
                skippedEmptyRows: skippedEmptyRows + other.skippedEmptyRows)
    }
}

/// Named splits (`train`, `test`, …) in a stable order: the role of `datasets.DatasetDict`.
public struct DatasetDict: Sendable, Equatable {
    public private(set) var splitNames: [String] = []
    private var storage: [String: Dataset] = [:]
    /// Where the splits came from, for messages.
    public var source: String

    public init(source: String) { self.source = source }

    public init(_ splits: [(String, Dataset)], source: String) {
        self.source = source
        for (name, dataset) in splits { self[name] = dataset }
    }

    public subscript(split: String) -> Dataset? {
        get { storage[split] }
        set {
            if let newValue {
                if storage[split] == nil { splitNames.append(split) }
                storage[split] = newValue
            } else if storage.removeValue(forKey: split) != nil {
                splitNames.removeAll { $0 == split }
            }
        }
    }

    /// The split named `name`, or ``DataError/missingSplit(split:available:source:)``.
    public func split(_ name: String) throws -> Dataset {
        guard let dataset = storage[name] else {
            throw DataError.missingSplit(split: name, available: splitNames, source: source)
        }
        return dataset
    }

    /// Merges `other` into `self`, concatenating splits present in both (dLLM's `_merge_datasetdicts`).
    public mutating func merge(_ other: DatasetDict) {
        for name in other.splitNames {
            let incoming = other.storage[name]!
            if let existing = storage[name] {
                storage[name] = existing.appending(incoming)
            } else {
                self[name] = incoming
            }
        }
        source = source.isEmpty ? other.source : "\(source) + \(other.source)"
    }

    /// Total rows over all splits.
    public var totalRows: Int { storage.values.reduce(0) { $0 + $1.count } }
}
