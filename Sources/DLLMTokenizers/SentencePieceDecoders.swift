/// The decoders of SentencePiece-style BPE tokenizers (LLaMA-2, Mistral, TinyLlama):
/// `Sequence[Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)]`.

/// `decoders::replace::Replace` with a `String` pattern: every occurrence of
/// `pattern` in each token becomes `content`.
public struct ReplaceDecoder: TokenDecoder {
    public let pattern: String
    public let content: String

    public init(pattern: String, content: String) {
        self.pattern = pattern
        self.content = content
    }

    init(json: JSONObject) throws {
        let p = try json.object("pattern")
        guard let literal = p.optionalString("String") else {
            throw TokenizerError.unsupportedOption(component: "Replace decoder", option: "a Regex pattern", file: json.file)
        }
        self.init(pattern: literal, content: try json.string("content"))
    }

    public func decodeChain(_ tokens: [String]) -> [String] {
        if pattern.isEmpty { return tokens }
        return tokens.map { replacingBytes(in: $0) }
    }

    /// Byte-wise replacement (Swift's `replacingOccurrences` compares graphemes,
    /// which would miss "▁" followed by a combining mark).
    private func replacingBytes(in token: String) -> String {
        let needle = Array(pattern.utf8), replacement = Array(content.utf8)
        let bytes = Array(token.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == needle[0] && i + needle.count <= bytes.count && bytes[i..<(i + needle.count)].elementsEqual(needle) {
                out.append(contentsOf: replacement)
                i += needle.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// `decoders::byte_fallback::ByteFallback`: runs of `<0xXX>` tokens become the
/// text their bytes spell, or one U+FFFD per byte when they are not valid UTF-8.
public struct ByteFallbackDecoder: TokenDecoder {
    public init() {}

    /// The byte of a `<0xXX>` token (exactly six characters, two hex digits).
    static func byte(of token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
              u[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    public func decodeChain(_ tokens: [String]) -> [String] {
        var out: [String] = []
        out.reserveCapacity(tokens.count)
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let s = String(validating: pending, as: UTF8.self) {
                out.append(s)
            } else {
                out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
            }
            pending.removeAll()
        }
        for t in tokens {
            if let b = Self.byte(of: t) {
                pending.append(b)
            } else {
                flush()
                out.append(t)
            }
        }
        flush()
        return out
    }
}

/// `decoders::fuse::Fuse`: all tokens joined into one.
public struct FuseDecoder: TokenDecoder {
    public init() {}
    public func decodeChain(_ tokens: [String]) -> [String] { [tokens.joined()] }
}

/// `decoders::strip::Strip`: removes up to `start` leading and `stop` trailing
/// `content` characters from each token.
public struct StripDecoder: TokenDecoder {
    public let content: Unicode.Scalar
    public let start: Int
    public let stop: Int

    public init(content: Unicode.Scalar, start: Int, stop: Int) {
        self.content = content
        self.start = start
        self.stop = stop
    }

    init(json: JSONObject) throws {
        let c = try json.string("content").unicodeScalars
        guard c.count == 1, let scalar = c.first else {
            throw TokenizerError.malformedJSON(file: json.file, detail: "Strip decoder content is not one character")
        }
        self.init(content: scalar, start: try json.int("start"), stop: try json.int("stop"))
    }

    public func decodeChain(_ tokens: [String]) -> [String] {
        tokens.map { token in
            let scalars = Array(token.unicodeScalars)
            var head = 0
            while head < min(start, scalars.count) && scalars[head] == content { head += 1 }
            var tail = 0
            while tail < min(stop, scalars.count - head) && scalars[scalars.count - 1 - tail] == content { tail += 1 }
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[head..<(scalars.count - tail)])
            return String(s)
        }
    }
}
