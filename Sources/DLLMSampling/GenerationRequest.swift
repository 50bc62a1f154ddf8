import DLLMJSON
import Foundation

/// One row of a batch-generation JSONL file: a `prompt` (or `messages` for a chat
/// template, or `infill` text with placeholders) and optional per-row overrides in
/// LLaDA's parameter names: `steps`, `gen_length`, `block_length`, `temperature`,
/// `remasking`, `cfg_scale`, `threshold`, `cache`, `seed`, `top_k`, `top_p`.
public struct GenerationRequest: Sendable, Equatable {
    /// An optional `id` (string or number), copied to the output row.
    public var id: String?
    public var prompt: String?
    public var messages: [ChatTurn]?
    public var infill: String?
    public var steps: Int?
    public var genLength: Int?
    public var blockLength: Int?
    public var temperature: Double?
    public var remasking: Remasking?
    public var cfgScale: Double?
    public var threshold: Double?
    public var cache: CacheMode?
    public var seed: UInt64?
    public var topK: Int?
    public var topP: Double?

    public struct ChatTurn: Sendable, Equatable {
        public var role: String
        public var content: String
        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }
    }

    public static let knownKeys: Set<String> = ["prompt", "messages", "infill", "steps", "gen_length", "block_length",
                                                "temperature", "remasking", "cfg_scale", "threshold", "cache", "seed",
                                                "top_k", "top_p", "id"]

    public init(prompt: String? = nil) { self.prompt = prompt }

    /// Parses one JSON line; `line` (1-based) names it in errors. Unknown keys are
    /// errors, so a misspelt override never silently falls back to the default.
    public init(jsonLine: String, line: Int) throws {
        func bad(_ key: String, _ reason: String) -> SamplingError { .badRequest(line: line, field: key, reason: reason) }
        let object: [(key: String, value: JSONValue)]
        do {
            guard let members = try JSONParser.parse(jsonLine).objectMembers else { throw bad("", "not a JSON object") }
            object = members
        } catch let error as JSONError {
            throw bad("", "not a JSON object (\(error.detail))")
        }
        func value(_ key: String) -> JSONValue? { object.first { $0.key == key }?.value }
        for (key, _) in object where !Self.knownKeys.contains(key) {
            throw bad(key, "unknown field; known: \(Self.knownKeys.sorted().joined(separator: ", "))")
        }
        func int(_ key: String) throws -> Int? {
            guard let v = value(key) else { return nil }
            guard let d = v.doubleValue, let i = v.intValue ?? Int(exactly: d) else { throw bad(key, "must be an integer") }
            return i
        }
        func double(_ key: String) throws -> Double? {
            guard let v = value(key) else { return nil }
            guard let d = v.doubleValue else { throw bad(key, "must be a number") }
            return d
        }
        func string(_ key: String) throws -> String? {
            guard let v = value(key) else { return nil }
            guard let s = v.stringValue else { throw bad(key, "must be a string") }
            return s
        }
        if let v = value("id") { id = v.stringValue ?? JSONWriter.string(v) }
        prompt = try string("prompt")
        infill = try string("infill")
        if let raw = value("messages") {
            guard let turns = raw.arrayValue, turns.allSatisfy({ $0.objectMembers != nil }) else {
                throw bad("messages", "must be a list of {role, content}")
            }
            messages = try turns.map { turn in
                guard let role = turn["role"]?.stringValue, let content = turn["content"]?.stringValue else {
                    throw bad("messages", "every turn needs string role and content")
                }
                return ChatTurn(role: role, content: content)
            }
        }
        let sources = [prompt != nil, messages != nil, infill != nil].filter { $0 }.count
        guard sources == 1 else { throw bad("prompt", "give exactly one of prompt, messages, infill") }
        steps = try int("steps")
        genLength = try int("gen_length")
        blockLength = try int("block_length")
        temperature = try double("temperature")
        if let r = try string("remasking") {
            guard let v = Remasking(rawValue: r) else { throw bad("remasking", "must be low_confidence or random") }
            remasking = v
        }
        cfgScale = try double("cfg_scale")
        threshold = try double("threshold")
        if let c = try string("cache") {
            guard let v = CacheMode(rawValue: c) else { throw bad("cache", "must be none, prefix or dual") }
            cache = v
        }
        if let s = try int("seed") {
            guard s >= 0 else { throw bad("seed", "must be ≥ 0") }
            seed = UInt64(s)
        }
        topK = try int("top_k")
        topP = try double("top_p")
    }

    /// `base` with this row's overrides applied.
    public func applied(to base: MDLMSamplerConfig) -> MDLMSamplerConfig {
        var c = base
        if let steps { c.steps = steps }
        if let genLength { c.genLength = genLength }
        if let blockLength { c.blockLength = blockLength }
        if let temperature { c.temperature = temperature }
        if let remasking { c.remasking = remasking }
        if let cfgScale { c.cfgScale = cfgScale }
        if let threshold { c.threshold = threshold }
        if let cache { c.cache = cache }
        return c
    }

    /// `base` with this row's overrides applied, for autoregressive models.
    public func applied(to base: ARSamplerConfig) -> ARSamplerConfig {
        var c = base
        if let genLength { c.maxNewTokens = genLength }
        if let temperature { c.temperature = temperature }
        if let topK { c.topK = topK }
        if let topP { c.topP = topP }
        return c
    }
}

/// Reads a JSONL file of requests (blank lines skipped).
public func readGenerationRequests(path: String) throws -> [GenerationRequest] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw SamplingError.emptyInput(parameter: "input", reason: "cannot read \(path)")
    }
    var requests: [GenerationRequest] = []
    for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { continue }
        requests.append(try GenerationRequest(jsonLine: trimmed, line: i + 1))
    }
    guard !requests.isEmpty else { throw SamplingError.emptyInput(parameter: "input", reason: "\(path) holds no requests") }
    return requests
}
