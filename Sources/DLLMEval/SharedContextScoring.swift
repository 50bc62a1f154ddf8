import DLLMModels

/// Requests of one document that share their context token ids (the choices of a multiple-choice
/// document): the context runs once and every continuation is scored against its cached keys and values.
struct SharedContextGroup {
    /// Indices into the scored requests, in their order.
    var members: [Int]
    var context: [Int32]
    /// Tokens one sequence of the group holds: the context and its longest continuation.
    var longest: Int

    /// Runs of consecutive requests of the same document (when `addresses` are given) with equal
    /// context ids, of at least two requests; `eligible` decides which runs take the shared path.
    static func find(_ requests: [EncodedRequest], addresses: [RequestAddress],
                     eligible: (SharedContextGroup) -> Bool) -> [SharedContextGroup] {
        func sameDocument(_ a: Int, _ b: Int) -> Bool {
            addresses.isEmpty || (addresses[a].task == addresses[b].task && addresses[a].document == addresses[b].document)
        }
        var groups: [SharedContextGroup] = []
        var start = 0
        while start < requests.count {
            var end = start + 1
            while end < requests.count, sameDocument(start, end), requests[end].context == requests[start].context { end += 1 }
            let members = Array(start..<end)
            let group = SharedContextGroup(members: members, context: requests[start].context,
                                           longest: requests[start].context.count + members.map { requests[$0].continuation.count }.max()!)
            if members.count >= 2, eligible(group) { groups.append(group) }
            start = end
        }
        return groups
    }
}

/// The caches the shared-context path reuses from group to group: one per batch width, replaced by
/// a larger one when a group needs more slots. Reuse is safe because every forward writes the
/// slots it reads (the prefix copy, then the step's own slots) before reading them; a cache's
/// capacity never changes a score. Every cache of the scorer, the full path's too, shares one
/// snapshot of an fp32 model's transposed matrices instead of building its own per cache.
final class SharedContextCaches {
    private var byBatch: [Int: KVCache<Float>] = [:]
    /// A one-slot cache holding the snapshot, once a forward has built one.
    private var weights: KVCache<Float>?

    func cache(for model: any InferenceModel<Float>, batch: Int, capacity: Int) -> KVCache<Float> {
        if let cache = byBatch[batch], cache.capacity >= capacity { return cache }
        let cache = model.makeCache(batch: batch, capacity: capacity)
        lendWeights(to: cache)
        byBatch[batch] = cache
        return cache
    }

    /// Gives `cache` the kept snapshot, if there is one.
    func lendWeights(to cache: KVCache<Float>) {
        if let weights { cache.shareWeightSnapshot(of: weights) }
    }

    /// Keeps the snapshot `cache`'s forward built (the first one only).
    func keepWeights(of cache: KVCache<Float>, model: any InferenceModel<Float>) {
        guard weights == nil, cache.hasWeightSnapshot else { return }
        let holder = model.makeCache(batch: 1, capacity: 1)
        holder.shareWeightSnapshot(of: cache)
        weights = holder
    }
}

extension ARLoglikelihoodScorer {
    /// Rows every forward of the shared path keeps at least (queries of the context step and of the
    /// continuation step, logits): above the few-rows limits of DLLMModels' products (4) and decoding
    /// attention (4), so every matrix goes through the same sgemm kernel as a full forward, never the
    /// quantised-activation or IEEE-half decoding kernels.
    static let minimumSharedRows = 8

    /// Whether `group` can take the shared path: a non-empty context, non-empty continuations,
    /// nothing truncated (`len(context + continuation) ≤ max_length + 1`, lm-eval's window keeps it
    /// whole) and its padded steps within the model's positions.
    func canShareContext(_ group: SharedContextGroup, _ requests: [EncodedRequest]) -> Bool {
        let c = group.context.count
        guard c >= 1, group.longest <= maxLength + 1 else { return false }
        guard group.members.allSatisfy({ !requests[$0].continuation.isEmpty }) else { return false }
        return sharedCapacity(context: c, feed: group.longest - c - 1) <= model.maxPositions
    }

    /// Slots of the shared path's caches: the padded context step, or the context and the padded continuation step.
    func sharedCapacity(context c: Int, feed: Int) -> Int {
        max(max(c, Self.minimumSharedRows), c + (feed == 0 ? 0 : max(feed, Self.minimumSharedRows)))
    }

    /// Splits `groups` (in order) into packs of at most `batchSize` groups whose padded steps fit the
    /// model's positions: the units the shared path runs, two forwards each.
    func packs(_ groups: [SharedContextGroup], _ requests: [EncodedRequest], batchSize: Int) -> [[SharedContextGroup]] {
        var packs: [[SharedContextGroup]] = []
        var pack: [SharedContextGroup] = [], context = 0, feed = 0
        for group in groups {
            let c = group.context.count, f = group.members.map { requests[$0].continuation.count - 1 }.max()!
            if !pack.isEmpty, pack.count == batchSize || sharedCapacity(context: max(context, c), feed: max(feed, f)) > model.maxPositions {
                packs.append(pack)
                (pack, context, feed) = ([], 0, 0)
            }
            pack.append(group)
            (context, feed) = (max(context, c), max(feed, f))
        }
        if !pack.isEmpty { packs.append(pack) }
        return packs
    }

    /// Scores the continuations of a pack of contexts (lm-eval `_loglikelihood_tokens` semantics,
    /// computed in two forwards). Step 1: the contexts, causal, one row each, right-padded; the logits
    /// of each context's last position predict its continuations' first tokens. Step 2: each
    /// context's keys and values are copied into one row per continuation, and each row feeds its
    /// continuation but the last token from slot `len(context)` on; query `i` of row `b` predicts
    /// token `i + 1` of continuation `b`. Both steps are padded to at least ``minimumSharedRows``
    /// queries and logit rows; padding sits after every real slot of its row, so causal attention
    /// never reads it. Returns the answers row by row (pack order, then continuation order).
    func scoreSharedContexts(_ groups: [(context: [Int32], continuations: [[Int32]])]) -> [LoglikelihoodResult] {
        let V = model.vocabularySize
        let G = groups.count
        let lengths = groups.map(\.context.count)
        var owner: [Int] = [], continuations: [[Int32]] = []  // step-2 rows: their context, their continuation
        for (g, group) in groups.enumerated() {
            for continuation in group.continuations { owner.append(g); continuations.append(continuation) }
        }
        let n = continuations.count
        let feeds = continuations.map { $0.count - 1 }  // tokens row b feeds after its context
        let feed = feeds.max()!
        let Tc = max(lengths.max()!, Self.minimumSharedRows)
        let Tq = feed == 0 ? 0 : max(feed, Self.minimumSharedRows)
        let capacity = sharedCapacity(context: lengths.max()!, feed: feed)

        let contextCache = sharedCaches.cache(for: model, batch: G, capacity: capacity)
        var contextIDs = [Int32](repeating: 0, count: G * Tc)  // (G, Tc) right-padded
        for (g, group) in groups.enumerated() {
            for (t, id) in group.context.enumerated() { contextIDs[g * Tc + t] = id }
        }
        let contextStep = InferenceStep.full(ids: contextIDs, B: G, T: Tc, lengths: lengths, causal: true,
                                             logitRows: Self.paddedLogitRows(lengths.indices.map { $0 * Tc + lengths[$0] - 1 }))
        let last = model.inferenceForward(contextStep, cache: contextCache)  // (≥ G, V): row g = context g's last position
        sharedCaches.keepWeights(of: contextCache, model: model)
        var totals: [Double] = [], greedy: [Bool] = []
        for (b, continuation) in continuations.enumerated() {
            let (logProb, isArgmax) = Self.logSoftmax(last + owner[b] * V, count: V, at: Int(continuation[0]))
            totals.append(logProb)
            greedy.append(isArgmax)
        }
        if Tq > 0 {
            let cache = sharedCaches.cache(for: model, batch: n, capacity: capacity)
            for b in 0..<n { cache.copyPrefix(from: contextCache, sourceRow: owner[b], toRow: b, count: lengths[owner[b]]) }
            var ids = [Int32](repeating: 0, count: n * Tq)  // (n, Tq) right-padded
            var rows: [Int] = []
            for (b, continuation) in continuations.enumerated() {
                for i in 0..<feeds[b] {
                    ids[b * Tq + i] = continuation[i]
                    rows.append(b * Tq + i)
                }
            }
            let step = InferenceStep(ids: ids, B: n, Tq: Tq, queryStart: owner.map { lengths[$0] },
                                     keyLength: (0..<n).map { lengths[owner[$0]] + feeds[$0] }, causal: true,
                                     logitRows: Self.paddedLogitRows(rows))
            let logits = model.inferenceForward(step, cache: cache)  // (rows, V)
            var row = 0
            for (b, continuation) in continuations.enumerated() {
                for target in continuation.dropFirst() {
                    let (logProb, isArgmax) = Self.logSoftmax(logits + row * V, count: V, at: Int(target))
                    totals[b] += logProb
                    greedy[b] = greedy[b] && isArgmax
                    row += 1
                }
            }
        }
        return (0..<n).map { LoglikelihoodResult(logLikelihood: totals[$0], isGreedy: greedy[$0], truncated: false) }
    }
}
