import DLLMJSON

/// JSON literals for files written by hand (the files are large and their key order
/// matters to readers); the escaping is DLLMJSON's (`serde_json`'s).
enum JSONText {
    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func string(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 2)
        JSONWriter.appendString(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func optionalString(_ s: String?) -> String { s.map(string) ?? "null" }
}
