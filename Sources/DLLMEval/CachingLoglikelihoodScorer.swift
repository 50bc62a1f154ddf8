import Foundation

/// A scorer whose answers go through a ``ResponseCache`` (lm-eval's `CachingLM`): requests found
/// in the cache are not scored again; the others are scored by `inner` and appended to the cache
/// after each unit of work (a batch, a shared-context group, a Monte Carlo request).
///
/// Over several ranks each rank reads and writes its own file; before scoring, the ranks agree on
/// which requests any of them holds (two sums over the ranks), so every rank shards the same
/// remaining requests as a single process would, and rank 0 answers the cached ones.
public final class CachingLoglikelihoodScorer: LoglikelihoodScorer {
    public let inner: any LoglikelihoodScorer
    public let cache: ResponseCache
    /// The start of every key: the model's identity and the scoring settings (``ResponseCache/key(_:_:address:)``).
    public let scope: String
    /// Keys include the request's address (task, document, request): true for the Monte Carlo
    /// estimate, whose draws depend on it.
    public let keyByAddress: Bool
    /// Element-wise sum over the ranks; needed when scoring a shard of several.
    public let sumOverRanks: (([Double]) -> [Double])?
    /// Answers read from the cache (every rank's file, over all calls) and scored by this rank.
    public private(set) var cachedAnswers = 0, scoredAnswers = 0

    public var maxLength: Int { inner.maxLength }
    public var rollingWindowLength: Int { inner.rollingWindowLength }

    public init(inner: any LoglikelihoodScorer, cache: ResponseCache, scope: String, keyByAddress: Bool,
                sumOverRanks: (([Double]) -> [Double])? = nil) {
        self.inner = inner
        self.cache = cache
        self.scope = scope
        self.keyByAddress = keyByAddress
        self.sumOverRanks = sumOverRanks
    }

    public func score(_ requests: [EncodedRequest], addresses: [RequestAddress], batchSize: Int, shard: EvalShard,
                      progress: ((Int) -> Void)?, scored: ScoredUnitHandler?) -> [LoglikelihoodResult?] {
        precondition(!keyByAddress || addresses.count == requests.count, "one address per request")
        let keys = requests.indices.map { ResponseCache.key(scope, requests[$0], address: keyByAddress ? addresses[$0] : nil) }
        var cached = keys.map(cache.lookup)
        if shard.count > 1 {
            guard let sumOverRanks else { preconditionFailure("a sharded cached scorer needs a sum over the ranks") }
            cached = Self.agreed(cached, rank: shard.rank, ranks: shard.count, sumOverRanks: sumOverRanks)
        }
        let missing = requests.indices.filter { cached[$0] == nil }
        cachedAnswers += requests.count - missing.count
        // Rank 0 answers the cached requests (the evaluator's sum takes each answer from one rank).
        var results = shard.rank == 0 ? cached : [LoglikelihoodResult?](repeating: nil, count: requests.count)
        let already = shard.rank == 0 ? requests.count - missing.count : 0
        if already > 0 { progress?(already) }
        var reportedFailure = false
        let fresh = inner.score(missing.map { requests[$0] }, addresses: addresses.isEmpty ? [] : missing.map { addresses[$0] },
                                batchSize: batchSize, shard: shard, progress: { progress?(already + $0) },
                                scored: { indices, answers in
            let original = indices.map { missing[$0] }
            do { try self.cache.append(zip(original, answers).map { (keys[$0], $1) }) } catch {
                if !reportedFailure { FileHandle.standardError.write(Data("warning: --use_cache: \(error)\n".utf8)) }
                reportedFailure = true
            }
            scored?(original, answers)
        })
        for (j, i) in missing.enumerated() where fresh[j] != nil {
            results[i] = fresh[j]
            scoredAnswers += 1
        }
        return results
    }

    /// Every rank's view of the cached answers: request `i` is cached when any rank's file holds it,
    /// with the answer of the lowest such rank. Sum 1: the ranks holding each request as bits
    /// (2^rank, exact in a double below 53 ranks). Sum 2: each answer from its lowest holder only.
    static func agreed(_ mine: [LoglikelihoodResult?], rank: Int, ranks: Int,
                       sumOverRanks: ([Double]) -> [Double]) -> [LoglikelihoodResult?] {
        precondition(ranks <= 52, "--use_cache agrees over at most 52 ranks")
        let holders = sumOverRanks(mine.map { $0 == nil ? 0 : Double(UInt64(1) << UInt64(rank)) })
        var packed = [Double](repeating: 0, count: mine.count * 3)  // (N, [ll, greedy, truncated])
        for (i, answer) in mine.enumerated() {
            guard let answer, holders[i] != 0, (UInt64(holders[i]) & ~(UInt64.max << UInt64(rank))) == 0 else { continue }
            packed[3 * i] = answer.logLikelihood
            packed[3 * i + 1] = answer.isGreedy ? 1 : 0
            packed[3 * i + 2] = answer.truncated ? 1 : 0
        }
        let summed = sumOverRanks(packed)
        return mine.indices.map { i in
            holders[i] == 0 ? nil : LoglikelihoodResult(logLikelihood: summed[3 * i], isGreedy: summed[3 * i + 1] == 1,
                                                        truncated: summed[3 * i + 2] == 1)
        }
    }
}

extension ResponseCache {
    /// The identity of a model file or folder for cache keys: its absolute path and, for the file
    /// or each file of the folder (not descending), its name, size and modification time. A
    /// converted, retrained or replaced model misses the cache; the same files hit it.
    public static func modelIdentity(path: String) -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        guard manager.fileExists(atPath: absolute, isDirectory: &isFolder) else { return absolute }
        let files = isFolder.boolValue
            ? ((try? manager.contentsOfDirectory(atPath: absolute)) ?? []).sorted().map { absolute + "/" + $0 }
            : [absolute]
        var lines = [absolute]
        for file in files {
            guard let attributes = try? manager.attributesOfItem(atPath: file),
                  attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            lines.append("\((file as NSString).lastPathComponent) \(size) \(modified.bitPattern)")
        }
        return lines.joined(separator: "\n")
    }
}
