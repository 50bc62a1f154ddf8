/// A string compared and hashed by its UTF-8 bytes.
///
/// Swift's `String` equality is canonical equivalence ("é" == "e\u{301}"),
/// but vocabularies and the Rust crate compare bytes; keys use this wrapper.
struct RawString: Hashable {
    let value: String

    init(_ value: String) { self.value = value }
    init(_ value: Substring) { self.value = String(value) }

    static func == (a: RawString, b: RawString) -> Bool {
        a.value.utf8.elementsEqual(b.value.utf8)
    }

    func hash(into hasher: inout Hasher) {
        var v = value
        v.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
