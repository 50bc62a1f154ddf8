/// The (B, T) token canvas the diffusion sampler fills in, with its geometry.
///
/// Rows are right-padded, as dLLM's `MDLMSampler.sample` pads them: row `b` is real
/// up to `lengths[b]` (its attention mask is 1 there, 0 after) and padded with EOS
/// after. `given` marks the tokens the answer is conditioned on (the prompt, or the
/// known tokens of an infill text), which classifier-free guidance's unconditional
/// pass replaces by masks.
public struct DiffusionCanvas: Sendable, Equatable {
    /// (B·T) token ids.
    public var tokens: [Int32]
    public let B: Int
    public let T: Int
    /// (B) real length of each row.
    public let lengths: [Int]
    /// (B·T) true for a conditioning token.
    public let given: [Bool]
    /// (B) where each row's answer region starts and ends: the appended masks when
    /// generating, the whole row when infilling.
    public let answers: [Range<Int>]

    /// Prompt, then `genLength` masks, then EOS padding (LLaDA's canvas, batched as dLLM does).
    public init(prompts: [[Int32]], genLength: Int, maskID: Int32, padID: Int32) {
        B = prompts.count
        T = (prompts.map(\.count).max() ?? 0) + genLength
        var tokens = [Int32](repeating: padID, count: B * T)
        var given = [Bool](repeating: false, count: B * T)
        var lengths: [Int] = [], answers: [Range<Int>] = []
        for (b, prompt) in prompts.enumerated() {
            for (t, id) in prompt.enumerated() {
                tokens[b * T + t] = id
                given[b * T + t] = true
            }
            for t in prompt.count..<(prompt.count + genLength) { tokens[b * T + t] = maskID }
            lengths.append(prompt.count + genLength)
            answers.append(prompt.count..<(prompt.count + genLength))
        }
        self.tokens = tokens
        self.given = given
        self.lengths = lengths
        self.answers = answers
    }

    /// Sequences with mask tokens anywhere, right-padded with EOS to the longest
    /// (dLLM's `MDLMSampler.infill` canvas); every non-mask token is given.
    public init(infill sequences: [[Int32]], maskID: Int32, padID: Int32) {
        B = sequences.count
        T = sequences.map(\.count).max() ?? 0
        var tokens = [Int32](repeating: padID, count: B * T)
        var given = [Bool](repeating: false, count: B * T)
        for (b, s) in sequences.enumerated() {
            for (t, id) in s.enumerated() {
                tokens[b * T + t] = id
                given[b * T + t] = id != maskID
            }
        }
        self.tokens = tokens
        self.given = given
        lengths = sequences.map(\.count)
        answers = sequences.map { 0..<$0.count }
    }

    public subscript(b: Int, t: Int) -> Int32 {
        get { tokens[b * T + t] }
        set { tokens[b * T + t] = newValue }
    }

    /// Row `b`'s real tokens.
    public func row(_ b: Int) -> [Int32] { Array(tokens[(b * T)..<(b * T + lengths[b])]) }

    /// Row `b`'s answer region.
    public func answer(_ b: Int) -> [Int32] { Array(tokens[(b * T + answers[b].lowerBound)..<(b * T + answers[b].upperBound)]) }

    /// Number of `maskID` tokens of row `b` in `range`.
    func maskCount(_ b: Int, in range: Range<Int>, maskID: Int32) -> Int {
        range.reduce(0) { $0 + (tokens[b * T + $1] == maskID ? 1 : 0) }
    }
}
