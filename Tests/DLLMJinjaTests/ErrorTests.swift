import XCTest
@testable import DLLMJinja

/// Parse and render errors name the problem and its line and column.
final class ErrorTests: XCTestCase {
    private func parseError(_ source: String, file: StaticString = #filePath, line: UInt = #line) -> JinjaError? {
        do {
            _ = try Template(source)
            XCTFail("parsed \(source.debugDescription)", file: file, line: line)
            return nil
        } catch let e as JinjaError {
            return e
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    func testUnsupportedTagNamesTheTagAndPosition() {
        guard case .unsupported(let feature, let line, let column)? = parseError("hello\n  {% include 'x.jinja' %}") else { return XCTFail() }
        XCTAssertTrue(feature.contains("include"), feature)
        XCTAssertEqual(line, 2)
        XCTAssertEqual(column, 3)
        let e = parseError("{% filter upper %}x{% endfilter %}")
        XCTAssertTrue("\(e!)".contains("'{% filter %}' tag"), "\(e!)")
    }

    func testUnsupportedFilterAndTestAndRecursiveLoop() {
        guard case .unsupported(let f, 1, 12)? = parseError("{{ 'a' ~ x|wordwrap(3) }}") else { return XCTFail() }
        XCTAssertTrue(f.contains("wordwrap"))
        guard case .unsupported(let t, _, _)? = parseError("{% if x is escaped %}{% endif %}") else { return XCTFail() }
        XCTAssertTrue(t.contains("escaped"))
        guard case .unsupported(let r, _, _)? = parseError("{% for x in y recursive %}{% endfor %}") else { return XCTFail() }
        XCTAssertTrue(r.contains("recursive"))
    }

    func testUnclosedBlocksReportWhereTheyOpened() {
        guard case .syntax(let m, _, _)? = parseError("a\n{% for m in messages %}\n{% if m %}x{% endfor %}") else { return XCTFail() }
        XCTAssertTrue(m.contains("'{% if %}' opened at line 3"), m)
        guard case .syntax(let m2, _, _)? = parseError("{% if true %}never closed") else { return XCTFail() }
        XCTAssertTrue(m2.contains("unclosed") && m2.contains("endif"), m2)
        guard case .syntax(_, 1, 1)? = parseError("{{ 'x' ") else { return XCTFail() }
        guard case .syntax(_, 2, 1)? = parseError("x\n{# no end") else { return XCTFail() }
        guard case .syntax(let m3, _, _)? = parseError("{% endif %}") else { return XCTFail() }
        XCTAssertTrue(m3.contains("endif"), m3)
    }

    func testBadSyntaxHasLineAndColumn() {
        guard case .syntax(_, let line, let column)? = parseError("line one\nline two {{ 1 + }}") else { return XCTFail() }
        XCTAssertEqual(line, 2)
        XCTAssertEqual(column, 17)
        guard case .syntax(_, 3, _)? = parseError("\n\n{% set = 3 %}") else { return XCTFail() }
        guard case .syntax(_, 1, _)? = parseError("{{ 'unterminated }}") else { return XCTFail() }
        guard case .syntax(_, 1, _)? = parseError("{% frobnicate %}") else { return XCTFail() }
        guard case .syntax(_, 1, _)? = parseError("{{ (1, 2 }}") else { return XCTFail() }
    }

    func testRaiseExceptionCarriesTheMessage() throws {
        let t = try Template("ok\n{% if messages|length > 1 %}{{ raise_exception('Only one message, got ' ~ messages|length) }}{% endif %}")
        XCTAssertEqual(try t.render(["messages": [1]]), "ok\n")
        XCTAssertThrowsError(try t.render(["messages": [1, 2]])) { error in
            guard case JinjaError.raised(let message, let line, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(message, "Only one message, got 2")
            XCTAssertEqual(line, 2)
        }
    }

    func testRuntimeErrorsNameTheUndefinedValueAndLine() throws {
        let t = try Template("a\nb {{ message.content.strip() }}")
        XCTAssertThrowsError(try t.render(["message": ["role": "user"]])) { error in
            guard case JinjaError.runtime(let message, 2, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("has no attribute 'content'"), message)
        }
        XCTAssertThrowsError(try Template("{% for x in 3 %}{% endfor %}").render([:]))
        XCTAssertThrowsError(try Template("{{ [].append(1) }}").render([:]))
        XCTAssertThrowsError(try Template("{{ 9223372036854775807 + 1 }}").render([:]))
    }

    func testMalformedJSONContextIsAnError() {
        XCTAssertThrowsError(try JinjaValue.parseJSON("{\"a\": [1, 2}")) { error in
            guard case JinjaError.invalidJSON(_, let offset) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(offset, 11)
        }
    }

    /// Hostile templates get errors, never a stack overflow or a hang.
    func testNestingAndRecursionAreBounded() throws {
        guard case .syntax(let m, 1, _)? = parseError("{{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}") else {
            return XCTFail()
        }
        XCTAssertTrue(m.contains("nested deeper"), m)
        let blocks = String(repeating: "{% if true %}", count: 1000) + String(repeating: "{% endif %}", count: 1000)
        guard case .syntax? = parseError(blocks) else { return XCTFail() }
        let recursive = try Template("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
        XCTAssertThrowsError(try recursive.render([:])) { error in
            guard case JinjaError.runtime(let message, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("recursed deeper"), message)
        }
        let cyclic = try Template("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns }}")
        XCTAssertThrowsError(try cyclic.render([:])) { error in
            guard case JinjaError.runtime(let message, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("recursion"), message)
        }
        let deep = try Template("{% set ns = namespace(x=0) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x | tojson }}")
        XCTAssertThrowsError(try deep.render([:]))
        let doubling = try Template("{% set ns = namespace(x=0) %}{% for i in range(100) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}")
        XCTAssertThrowsError(try doubling.render([:]))
        let fine = try Template("{% set ns = namespace(x=0) %}{% for i in range(200) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x | tojson | length }}")
        XCTAssertEqual(try fine.render([:]), "401")
        XCTAssertThrowsError(try Template("{% set ns = namespace() %}{% set ns._secret = 1 %}").render([:]))
        XCTAssertThrowsError(try Template("{{ namespace(_x=1) }}").render([:]))
        XCTAssertThrowsError(try JinjaValue.parseJSON(String(repeating: "[", count: 10000)))
    }
}
