import Foundation
import XCTest
@testable import DLLMJinja

/// Small templates (whitespace control, literals, operators, filters, tests, loops,
/// scoping, macros) against jinja2 configured as transformers configures it.
final class ExpressionSemanticsTests: XCTestCase {
    func testUnitTemplatesMatchJinja2() throws {
        let fixture = try Fixtures.json("unit_cases.json")
        let cases = try XCTUnwrap(fixture["cases"]?.array)
        XCTAssertGreaterThan(cases.count, 40)
        let now = Fixtures.fixedNow(try XCTUnwrap(fixture["meta"]))
        for c in cases {
            let name = try XCTUnwrap(c["name"]?.string)
            let source = try XCTUnwrap(c["template"]?.string)
            var context: [String: JinjaValue] = [:]
            if case .dict(let d)? = c["context"] { for (k, v) in d.items { context[k] = v } }
            do {
                let got = try Template(source).render(context, options: RenderOptions(now: { now }))
                guard let want = c["text"]?.string else {
                    XCTFail("\(name): rendered \(got.debugDescription) but jinja2 raised \(c["error"]?.string ?? "?"): \(c["message"]?.string ?? "")")
                    continue
                }
                assertSameText(got, want, name)
            } catch let error as JinjaError {
                guard c["error"] != nil else { XCTFail("\(name): \(error) but jinja2 rendered \(c["text"]?.string ?? "")"); continue }
                if c["error"]?.string == "TemplateError" {
                    guard case .raised(let message, _, _) = error else { XCTFail("\(name): expected raise_exception, got \(error)"); continue }
                    XCTAssertEqual(message, c["message"]?.string, name)
                } else if case .runtime(let message, _, _) = error, c["error"]?.string == "UndefinedError" {
                    XCTAssertTrue(message.contains(c["message"]?.string ?? "\u{0}"), "\(name): \(message) vs \(c["message"]?.string ?? "")")
                }
            }
        }
    }
}
