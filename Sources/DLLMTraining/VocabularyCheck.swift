import DLLMData
import DLLMTokenizers

/// Every token id a run can feed the model, checked against the model's embedding rows
/// before the first step (issue 17, defect 1: ids beyond the embedding used to read and
/// write out of bounds in `embeddingForward`/`embeddingBackward`).
enum VocabularyCheck {
    /// Throws unless the tokenizer's vocabulary, its special ids, the mask id and every id
    /// in `sources` fit in `modelVocabulary` rows; the error names both sizes.
    static func check(modelVocabulary V: Int, model: String, tokenizer: BPETextTokenizer, maskTokenID: Int?,
                      sources: [(name: String, source: any ExampleSource)]) throws {
        func fail(_ what: String, _ id: Int) -> TrainingError {
            .configuration("\(what) is \(id), but \(model) has an embedding of \(V) rows (vocab_size \(V)): "
                + "use a tokenizer and data made for this model, or a model with at least \(id + 1) rows")
        }
        let tokenizerSize = tokenizer.tokenizer.vocabSize
        if tokenizerSize > V {
            throw TrainingError.configuration("the tokenizer \(tokenizer.path) has \(tokenizerSize) tokens, but \(model) has an embedding "
                + "of \(V) rows (vocab_size \(V)): use the model's own tokenizer, or a model with at least \(tokenizerSize) rows")
        }
        for (what, id) in [("the EOS id", tokenizer.eosTokenID), ("the BOS id", tokenizer.bosTokenID),
                           ("the pad id", tokenizer.padTokenID), ("the tokenizer's mask id", tokenizer.maskTokenID)] {
            if let id, id < 0 || Int(id) >= V { throw fail("\(tokenizer.path): \(what)", Int(id)) }
        }
        if let maskTokenID, maskTokenID < 0 || maskTokenID >= V { throw fail("mask_token_id", maskTokenID) }
        for (name, source) in sources {
            for index in 0..<source.count {
                let ids = try source.example(at: index).inputIDs
                if let bad = ids.first(where: { $0 < 0 || Int($0) >= V }) {
                    throw fail("\(name): token id in sequence \(index)", Int(bad))
                }
            }
        }
    }
}
