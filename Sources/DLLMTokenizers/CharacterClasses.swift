/// Unicode character classes used by the pre-tokenizer regexes, with the
/// meaning Oniguruma (the Rust crate's regex engine) gives them:
/// `\p{L}` = general category L*, `\p{N}` = N*, `\s` = the White_Space property.
enum CharClass: UInt8 {
    case letter, number, space, other
}

enum CharClasses {
    /// Classes of the ASCII range, precomputed.
    static let ascii: [CharClass] = (0..<128).map { classify(Unicode.Scalar(UInt8($0))) }

    @inline(__always)
    static func of(_ v: UInt32) -> CharClass {
        if v < 128 { return ascii[Int(v)] }
        return classify(Unicode.Scalar(v)!)
    }

    static func classify(_ s: Unicode.Scalar) -> CharClass {
        let p = s.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }

    /// Rust's `char::is_numeric` (general categories Nd, Nl, No).
    static func isNumeric(_ s: Unicode.Scalar) -> Bool { of(s.value) == .number }

    /// The `regex` crate's Unicode `\w`: alphabetic, marks, decimal digits,
    /// connector punctuation and join controls. Used by `single_word`.
    static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            return true
        default:
            return false
        }
    }
}

/// Decodes the scalar starting at `i` of valid UTF-8; returns its value and length.
@inline(__always)
func decodeScalar(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return (((b0 & 0x1F) << 6) | (UInt32(p[i + 1]) & 0x3F), 2) }
    if b0 < 0xF0 {
        return (((b0 & 0x0F) << 12) | ((UInt32(p[i + 1]) & 0x3F) << 6) | (UInt32(p[i + 2]) & 0x3F), 3)
    }
    return (((b0 & 0x07) << 18) | ((UInt32(p[i + 1]) & 0x3F) << 12)
        | ((UInt32(p[i + 2]) & 0x3F) << 6) | (UInt32(p[i + 3]) & 0x3F), 4)
}
