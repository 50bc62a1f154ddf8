import Foundation
import XCTest
import DLLMJinja

/// The committed fixtures written by Fixtures/generate_jinja_fixtures.py.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func text(_ name: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(name).path) else {
            throw NSError(domain: "Fixtures", code: 1, userInfo: [NSLocalizedDescriptionKey: "missing fixture \(name)"])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Parsed keeping key order (the templates' `tojson` and `items()` depend on it).
    static func json(_ name: String) throws -> JinjaValue { try JinjaValue.parseJSON(try text(name)) }

    /// The instant the fixture script pinned `datetime.now()` to, in local time as Python's naive datetime.
    static func fixedNow(_ meta: JinjaValue) -> Date {
        guard case .dict(let m) = meta, case .list(let parts)? = m["fixed_now"] else { return Date() }
        let n = parts.map { if case .int(let i) = $0 { return i } else { return 0 } }
        let components = DateComponents(year: n[0], month: n[1], day: n[2], hour: n[3], minute: n[4], second: n[5])
        return Calendar.current.date(from: components)!
    }
}

extension JinjaValue {
    subscript(_ key: String) -> JinjaValue? {
        if case .dict(let d) = self { return d[key] }
        return nil
    }
    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var array: [JinjaValue]? { if case .list(let a) = self { return a } else { return nil } }
}

/// Code-point equality with a readable failure (Swift's String == is canonical equivalence).
func assertSameText(_ got: String, _ want: String, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
    if !got.unicodeScalars.elementsEqual(want.unicodeScalars) {
        let g = Array(got.unicodeScalars), w = Array(want.unicodeScalars)
        var i = 0
        while i < min(g.count, w.count) && g[i] == w[i] { i += 1 }
        let context = String(String.UnicodeScalarView(w[max(0, i - 40)..<min(w.count, i + 40)]))
        XCTFail("\(label): first difference at code point \(i) near \(context.debugDescription)\n got: \(got.debugDescription)\nwant: \(want.debugDescription)",
                file: file, line: line)
    }
}
