import DLLMData
import DLLMTokenizers

/// lm-eval's `loglikelihood` request: the log-probability of `continuation` after `context`.
public struct LoglikelihoodRequest: Equatable, Sendable {
    public var context: String
    public var continuation: String

    public init(context: String, continuation: String) {
        self.context = context
        self.continuation = continuation
    }

    /// The requests of a document (lm-eval `ConfigurableTask.construct_requests`, zero-shot):
    /// `loglikelihood`, one `(context, doc_to_target)`; multiple choice, one per choice with the
    /// continuation `target_delimiter + choice`; multiple input, one per choice-context with the
    /// continuation `target_delimiter + doc_to_target`.
    public static func requests(_ document: EvalDocument, task: EvalTask) -> [LoglikelihoodRequest] {
        switch task.outputType {
        case .loglikelihood, .loglikelihoodRolling:
            return [LoglikelihoodRequest(context: document.context, continuation: document.choices[0])]
        case .generateUntil:
            return []  // its one request is a GenerateUntilRequest
        case .multipleChoice:
            if let shared = document.sharedContinuation {
                return document.choices.map { LoglikelihoodRequest(context: $0, continuation: task.targetDelimiter + shared) }
            }
            return document.choices.map { LoglikelihoodRequest(context: document.context, continuation: task.targetDelimiter + $0) }
        }
    }
}

/// A request as token ids: what the model sees.
public struct EncodedRequest: Equatable, Sendable {
    public var context: [Int32]
    public var continuation: [Int32]

    public init(context: [Int32], continuation: [Int32]) {
        self.context = context
        self.continuation = continuation
    }
}

/// Encodes requests as lm-eval's Hugging Face backend does for causal models.
public struct RequestEncoder {
    public let tokenizer: TextTokenizer
    /// lm-eval's `prefix_token_id`: the context of an empty-context request (BOS, else EOS).
    public let prefixTokenID: Int32?

    public init(tokenizer: TextTokenizer, prefixTokenID: Int32?) {
        self.tokenizer = tokenizer
        self.prefixTokenID = prefixTokenID
    }

    /// Mirrors lm-eval `TemplateLM._encode_pair` (causal): trailing whitespace of the
    /// context moves to the front of the continuation; context + continuation is encoded
    /// whole, and the continuation is what follows the context's own encoding's length.
    /// `tok_encode` uses the tokenizer's default special tokens (`add_special_tokens`
    /// left to the tokenizer, as the HF backend does without `add_bos_token`). An empty
    /// context is `[prefix_token_id]` (lm-eval `TemplateLM.loglikelihood`).
    public func encode(_ request: LoglikelihoodRequest) -> EncodedRequest {
        if request.context.isEmpty {
            let continuation = tokenizer.encode(request.continuation, addSpecialTokens: true)
            return EncodedRequest(context: prefixTokenID.map { [$0] } ?? [], continuation: continuation)
        }
        let scalars = Array(request.context.unicodeScalars)
        var cut = scalars.count
        while cut > 0, isPythonWhitespace(scalars[cut - 1]) { cut -= 1 }
        var contextScalars = String.UnicodeScalarView()
        contextScalars.append(contentsOf: scalars[0..<cut])
        var movedScalars = String.UnicodeScalarView()
        movedScalars.append(contentsOf: scalars[cut...])
        let context = String(contextScalars)
        let continuation = String(movedScalars) + request.continuation
        let whole = tokenizer.encode(context + continuation, addSpecialTokens: true)
        let contextIDs = tokenizer.encode(context, addSpecialTokens: true)
        let continuationIDs = contextIDs.count <= whole.count ? Array(whole[contextIDs.count...]) : []
        return EncodedRequest(context: contextIDs, continuation: continuationIDs)
    }
}
