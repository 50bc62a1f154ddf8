import Foundation

/// Something that finds the matches of a `Split` pattern in a piece of text.
///
/// Mirrors the Rust crate's `Pattern::find_matches` (`tokenizer/pattern.rs`):
/// the result covers the whole input with `(range, isMatch)` segments, matches
/// interleaved with the gaps between them. Ranges are UTF-8 byte offsets.
protocol SplitPattern {
    func findMatches(_ utf8: UnsafeBufferPointer<UInt8>) -> [(Range<Int>, Bool)]
}

extension SplitPattern {
    /// Turns a list of match ranges into the full covering segmentation,
    /// like the loop at the end of `find_matches` for regexes.
    static func segments(matches: [Range<Int>], count: Int) -> [(Range<Int>, Bool)] {
        if count == 0 { return [(0..<0, false)] }
        var out: [(Range<Int>, Bool)] = []
        out.reserveCapacity(matches.count * 2 + 1)
        var prev = 0
        for m in matches {
            if prev != m.lowerBound { out.append((prev..<m.lowerBound, false)) }
            out.append((m, true))
            prev = m.upperBound
        }
        if prev != count { out.append((prev..<count, false)) }
        return out
    }

    func findMatches(in text: Substring) -> [(Range<Int>, Bool)] {
        var text = text
        return text.withUTF8 { findMatches($0) }
    }
}

/// A regex pattern recognized by its exact source and run by a hand-written
/// scanner (see `FastRegex`), or compiled with `NSRegularExpression` otherwise.
struct RegexSplitPattern: SplitPattern {
    private let fast: FastRegex?
    private let compiled: NSRegularExpression?

    init(pattern: String, file: String) throws {
        if let f = FastRegex(pattern: pattern) {
            fast = f
            compiled = nil
        } else {
            fast = nil
            do {
                compiled = try NSRegularExpression(pattern: pattern, options: [])
            } catch {
                throw TokenizerError.badRegex(pattern: pattern, file: file)
            }
        }
    }

    /// Whether the hand-written scanner handles this pattern.
    var isFast: Bool { fast != nil }

    func matchRanges(_ p: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        if let fast { return fast.matches(p) }
        // General fallback: NSRegularExpression works in UTF-16; map back to UTF-8 offsets.
        let s = String(decoding: p, as: UTF8.self)
        let ns = s as NSString
        var out: [Range<Int>] = []
        let utf16 = Array(s.utf16)
        var u8 = [Int](repeating: 0, count: utf16.count + 1)
        var acc = 0
        var i = 0
        while i < utf16.count {
            u8[i] = acc
            let unit = utf16[i]
            if UTF16.isLeadSurrogate(unit) {
                u8[i + 1] = acc
                acc += 4
                i += 2
                continue
            }
            acc += unit < 0x80 ? 1 : (unit < 0x800 ? 2 : 3)
            i += 1
        }
        u8[utf16.count] = acc
        for m in compiled!.matches(in: s, options: [], range: NSRange(location: 0, length: ns.length)) {
            out.append(u8[m.range.location]..<u8[m.range.location + m.range.length])
        }
        return out
    }

    func findMatches(_ p: UnsafeBufferPointer<UInt8>) -> [(Range<Int>, Bool)] {
        Self.segments(matches: matchRanges(p), count: p.count)
    }
}

/// A literal string pattern (`{"String": …}`): non-overlapping occurrences, left to right.
struct LiteralSplitPattern: SplitPattern {
    let needle: [UInt8]

    func findMatches(_ p: UnsafeBufferPointer<UInt8>) -> [(Range<Int>, Bool)] {
        guard !needle.isEmpty, p.count >= needle.count else {
            return Self.segments(matches: [], count: p.count)
        }
        var matches: [Range<Int>] = []
        var i = 0
        let last = p.count - needle.count
        while i <= last {
            var ok = true
            for k in 0..<needle.count where p[i + k] != needle[k] { ok = false; break }
            if ok {
                matches.append(i..<(i + needle.count))
                i += needle.count
            } else {
                i += 1
            }
        }
        return Self.segments(matches: matches, count: p.count)
    }
}

/// Each character for which the predicate holds is a match of its own, like
/// the Rust crate's `impl Pattern for Fn(char) -> bool`.
struct PredicateSplitPattern: SplitPattern {
    let predicate: (Unicode.Scalar) -> Bool

    func findMatches(_ p: UnsafeBufferPointer<UInt8>) -> [(Range<Int>, Bool)] {
        if p.isEmpty { return [(0..<0, false)] }
        var out: [(Range<Int>, Bool)] = []
        var lastOffset = 0
        var i = 0
        while i < p.count {
            let (v, len) = decodeScalar(p, i)
            if predicate(Unicode.Scalar(v)!) {
                if lastOffset < i { out.append((lastOffset..<i, false)) }
                out.append((i..<(i + len), true))
                lastOffset = i + len
            }
            i += len
        }
        if p.count > lastOffset { out.append((lastOffset..<p.count, false)) }
        return out
    }
}

/// Swaps matches and gaps, like the Rust crate's `Invert` pattern wrapper.
struct InvertedSplitPattern: SplitPattern {
    let base: SplitPattern
    func findMatches(_ p: UnsafeBufferPointer<UInt8>) -> [(Range<Int>, Bool)] {
        base.findMatches(p).map { ($0.0, !$0.1) }
    }
}
