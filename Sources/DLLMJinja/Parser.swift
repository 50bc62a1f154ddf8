/// Builds the statement tree from tokens, following the grammar and operator precedence
/// of jinja2's `Parser` (or < and < not < comparisons < + - < ~ < * / // % < ** < unary
/// < filters/tests/calls < postfix).
struct Parser {
    private let tokens: [Token]
    private var index = 0
    /// Blocks being parsed, innermost last (for "unclosed"/"unexpected end tag" messages).
    private var openBlocks: [(tag: String, position: SourcePosition, expects: Set<String>)] = []
    /// Current expression nesting; bounded so a hostile template cannot exhaust the stack.
    private var expressionDepth = 0
    static let maximumNesting = 200

    init(tokens: [Token]) { self.tokens = tokens }

    static func parse(_ source: String) throws -> [Node] {
        var parser = Parser(tokens: try Lexer.tokenize(source))
        let (nodes, end) = try parser.parseBody(until: [])
        if let end { throw parser.syntax("unexpected '{% \(end) %}'", at: parser.previous.position) }
        return nodes
    }

    // MARK: - Token helpers

    private var current: Token { tokens[index] }
    private var previous: Token { tokens[max(0, index - 1)] }
    private func peek(_ n: Int = 1) -> Token { tokens[min(index + n, tokens.count - 1)] }
    private mutating func advance() -> Token {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    private func syntax(_ message: String, at p: SourcePosition) -> JinjaError {
        .syntax(message: message, line: p.line, column: p.column)
    }

    private func isOp(_ op: String) -> Bool {
        if case .op(let o) = current.kind { return o == op }
        return false
    }
    private func isName(_ name: String) -> Bool {
        if case .name(let n) = current.kind { return n == name }
        return false
    }
    private mutating func expectOp(_ op: String) throws {
        guard isOp(op) else { throw syntax("expected '\(op)', found \(current.describe)", at: current.position) }
        _ = advance()
    }
    private mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw syntax("expected a name, found \(current.describe)", at: current.position) }
        _ = advance()
        return n
    }
    private mutating func expectBlockEnd() throws {
        guard case .blockEnd = current.kind else { throw syntax("expected end of tag '%}', found \(current.describe)", at: current.position) }
        _ = advance()
    }

    // MARK: - Statements

    /// Parses nodes until a block tag whose name is in `until` (consumed up to the name) or the end.
    /// Returns the stopping tag name, or nil at the end of the template.
    private mutating func parseBody(until: Set<String>) throws -> ([Node], String?) {
        var nodes: [Node] = []
        while true {
            let token = current
            switch token.kind {
            case .end:
                return (nodes, nil)
            case .text(let t):
                _ = advance()
                nodes.append(.text(t))
            case .variableBegin:
                _ = advance()
                let e = try parseTupleOrExpression()
                guard case .variableEnd = current.kind else {
                    throw syntax("expected end of print statement '}}', found \(current.describe)", at: current.position)
                }
                _ = advance()
                nodes.append(.output(e))
            case .blockBegin:
                _ = advance()
                guard case .name(let tag) = current.kind else {
                    throw syntax("expected a tag name after '{%', found \(current.describe)", at: current.position)
                }
                if until.contains(tag) {
                    _ = advance()
                    return (nodes, tag)
                }
                nodes.append(try parseStatement(tag, opened: token.position))
            default:
                throw syntax("unexpected \(token.describe)", at: token.position)
            }
        }
    }

    private mutating func parseBlock(tag: String, opened at: SourcePosition, until: Set<String>) throws -> ([Node], String) {
        guard openBlocks.count < Self.maximumNesting else {
            throw syntax("blocks nested deeper than \(Self.maximumNesting)", at: at)
        }
        openBlocks.append((tag, at, until))
        defer { openBlocks.removeLast() }
        let (body, end) = try parseBody(until: until)
        guard let end else {
            let expected = until.sorted().map { "'\($0)'" }.joined(separator: " or ")
            throw syntax("unclosed '{% \(tag) %}' opened at line \(at.line), column \(at.column): reached the end looking for \(expected)",
                         at: current.position)
        }
        return (body, end)
    }

    private static let unsupportedTags: Set<String> = [
        "include", "import", "from", "extends", "block", "call", "filter", "with", "autoescape", "do", "trans",
        "pluralize", "endcall", "endfilter", "endwith", "endblock", "endautoescape", "endtrans",
    ]

    private static let closingTags: Set<String> = [
        "elif", "else", "endif", "endfor", "endset", "endmacro", "endgeneration", "endraw",
    ]

    private mutating func parseStatement(_ tag: String, opened start: SourcePosition) throws -> Node {
        _ = advance()
        switch tag {
        case "if":
            var branches: [(condition: ExprNode, body: [Node])] = []
            var condition = try parseExpressionNode()
            try expectBlockEnd()
            while true {
                let (body, end) = try parseBlock(tag: "if", opened: start, until: ["elif", "else", "endif"])
                branches.append((condition, body))
                switch end {
                case "elif":
                    condition = try parseExpressionNode()
                    try expectBlockEnd()
                case "else":
                    try expectBlockEnd()
                    let (otherwise, _) = try parseBlock(tag: "if", opened: start, until: ["endif"])
                    try expectBlockEnd()
                    return .ifChain(branches, otherwise: otherwise)
                default:
                    try expectBlockEnd()
                    return .ifChain(branches, otherwise: [])
                }
            }
        case "for":
            let target = try parseAssignTarget(allowNamespace: false)
            guard isName("in") else { throw syntax("expected 'in' in for loop, found \(current.describe)", at: current.position) }
            _ = advance()
            let iterPosition = current.position
            let iterable = try parseTupleOrExpression(withCondition: false)
            var filter: ExprNode?
            if isName("if") {
                _ = advance()
                filter = try parseExpressionNode()
            }
            if isName("recursive") {
                throw JinjaError.unsupported(feature: "recursive for loops", line: current.position.line, column: current.position.column)
            }
            try expectBlockEnd()
            let (body, end) = try parseBlock(tag: "for", opened: start, until: ["else", "endfor"])
            var otherwise: [Node] = []
            try expectBlockEnd()
            if end == "else" {
                (otherwise, _) = try parseBlock(tag: "for", opened: start, until: ["endfor"])
                try expectBlockEnd()
            }
            return .forLoop(ForLoop(target: target, iterable: ExprNode(iterable.expr, iterPosition), filter: filter,
                                    body: body, otherwise: otherwise, position: start))
        case "set":
            let target = try parseAssignTarget(allowNamespace: true)
            if isOp("=") {
                _ = advance()
                let value = try parseTupleOrExpression()
                try expectBlockEnd()
                return .set(target, value, start)
            }
            var filters: [FilterCall] = []
            while isOp("|") {
                _ = advance()
                filters.append(try parseFilterCall())
            }
            try expectBlockEnd()
            let (body, _) = try parseBlock(tag: "set", opened: start, until: ["endset"])
            try expectBlockEnd()
            return .setBlock(target, body: body, filters: filters, start)
        case "macro":
            let name = try expectName()
            try expectOp("(")
            var parameters: [(String, Expr?)] = []
            while !isOp(")") {
                if !parameters.isEmpty { try expectOp(",") }
                if isOp(")") { break }
                let p = try expectName()
                var d: Expr?
                if isOp("=") {
                    _ = advance()
                    d = try parseExpression()
                } else if parameters.contains(where: { $0.1 != nil }) {
                    throw syntax("non-default argument '\(p)' follows default argument", at: previous.position)
                }
                parameters.append((p, d))
            }
            _ = advance()
            try expectBlockEnd()
            let (body, _) = try parseBlock(tag: "macro", opened: start, until: ["endmacro"])
            if case .name = current.kind { _ = advance() }  // {% endmacro name %}
            try expectBlockEnd()
            return .macro(Macro(name: name, parameters: parameters, body: body, position: start))
        case "break", "continue":
            try expectBlockEnd()
            return tag == "break" ? .breakLoop(start) : .continueLoop(start)
        case "generation":
            try expectBlockEnd()
            let (body, _) = try parseBlock(tag: "generation", opened: start, until: ["endgeneration"])
            try expectBlockEnd()
            return .generation(body)
        default:
            if Self.closingTags.contains(tag) {
                if let block = openBlocks.last {
                    let expected = block.expects.sorted().map { "'\($0)'" }.joined(separator: " or ")
                    throw syntax("unexpected '{% \(tag) %}': the innermost open block is '{% \(block.tag) %}' opened at line \(block.position.line), column \(block.position.column), which needs \(expected)", at: start)
                }
                throw syntax("unexpected '{% \(tag) %}' outside any block", at: start)
            }
            if Self.unsupportedTags.contains(tag) {
                throw JinjaError.unsupported(feature: "the '{% \(tag) %}' tag", line: start.line, column: start.column)
            }
            throw syntax("unknown tag '\(tag)'", at: start)
        }
    }

    private mutating func parseAssignTarget(allowNamespace: Bool) throws -> Target {
        var targets: [Target] = []
        var sawComma = false
        repeat {
            if !targets.isEmpty { _ = advance(); sawComma = true }
            if isName("in") || (allowNamespace && isOp("=")) { break }
            let p = current.position
            let name = try expectName()
            if isOp(".") {
                guard allowNamespace else { throw syntax("can't assign to an attribute here", at: p) }
                _ = advance()
                targets.append(.namespaceAttribute(name, try expectName()))
            } else {
                targets.append(.name(name))
            }
        } while isOp(",")
        if targets.isEmpty { throw syntax("expected a variable name to assign to, found \(current.describe)", at: current.position) }
        if targets.count == 1 && !sawComma { return targets[0] }
        return .tuple(targets)
    }

    // MARK: - Expressions

    private mutating func parseExpressionNode() throws -> ExprNode {
        let p = current.position
        return ExprNode(try parseExpression(), p)
    }

    /// `a, b` without parentheses is a tuple (jinja2 `parse_tuple`).
    private mutating func parseTupleOrExpression(withCondition: Bool = true) throws -> ExprNode {
        let p = current.position
        let first = withCondition ? try parseExpression() : try parseOr()
        guard isOp(",") else { return ExprNode(first, p) }
        var items = [first]
        while isOp(",") {
            _ = advance()
            if case .variableEnd = current.kind { break }
            if case .blockEnd = current.kind { break }
            if isName("if") { break }
            items.append(withCondition ? try parseExpression() : try parseOr())
        }
        return ExprNode(.tuple(items), p)
    }

    private mutating func enterExpression() throws {
        expressionDepth += 1
        if expressionDepth > Self.maximumNesting {
            throw syntax("expression nested deeper than \(Self.maximumNesting)", at: current.position)
        }
    }

    mutating func parseExpression() throws -> Expr {
        try enterExpression()
        defer { expressionDepth -= 1 }
        var e = try parseOr()
        while isName("if") {
            let p = current.position
            _ = advance()
            let test = try parseOr()
            var otherwise: Expr?
            if isName("else") {
                _ = advance()
                otherwise = try parseExpression()
            }
            e = .at(p, .conditional(test: test, then: e, otherwise: otherwise))
        }
        return e
    }

    private mutating func parseOr() throws -> Expr {
        var e = try parseAnd()
        while isName("or") { _ = advance(); e = .or(e, try parseAnd()) }
        return e
    }

    private mutating func parseAnd() throws -> Expr {
        var e = try parseNot()
        while isName("and") { _ = advance(); e = .and(e, try parseNot()) }
        return e
    }

    private mutating func parseNot() throws -> Expr {
        try enterExpression()
        defer { expressionDepth -= 1 }
        if isName("not") {
            _ = advance()
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        let p = current.position
        let first = try parseMath1()
        var ops: [(String, Expr)] = []
        while true {
            if case .op(let o) = current.kind, ["==", "!=", "<", "<=", ">", ">="].contains(o) {
                _ = advance()
                ops.append((o, try parseMath1()))
            } else if isName("in") {
                _ = advance()
                ops.append(("in", try parseMath1()))
            } else if isName("not"), case .name("in") = peek().kind {
                _ = advance(); _ = advance()
                ops.append(("not in", try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? first : .at(p, .compare(first, ops))
    }

    private mutating func parseMath1() throws -> Expr {
        var e = try parseConcat()
        while case .op(let o) = current.kind, o == "+" || o == "-" {
            let p = current.position
            _ = advance()
            e = .at(p, .binary(o, e, try parseConcat()))
        }
        return e
    }

    private mutating func parseConcat() throws -> Expr {
        var parts = [try parseMath2()]
        while isOp("~") {
            _ = advance()
            parts.append(try parseMath2())
        }
        return parts.count == 1 ? parts[0] : .concat(parts)
    }

    private mutating func parseMath2() throws -> Expr {
        var e = try parsePow()
        while case .op(let o) = current.kind, ["*", "/", "//", "%"].contains(o) {
            let p = current.position
            _ = advance()
            e = .at(p, .binary(o, e, try parsePow()))
        }
        return e
    }

    private mutating func parsePow() throws -> Expr {
        var e = try parseUnary(withFilter: true)
        while isOp("**") {
            let p = current.position
            _ = advance()
            e = .at(p, .binary("**", e, try parseUnary(withFilter: true)))
        }
        return e
    }

    private mutating func parseUnary(withFilter: Bool) throws -> Expr {
        try enterExpression()
        defer { expressionDepth -= 1 }
        let p = current.position
        var e: Expr
        if isOp("-") || isOp("+") {
            let o = advance()
            guard case .op(let op) = o.kind else { fatalError("unreachable") }
            e = .at(p, .unary(op, try parseUnary(withFilter: false)))
        } else {
            e = try parsePrimary()
        }
        e = try parsePostfix(e)
        if withFilter { e = try parseFilterExpression(e) }
        return e
    }

    private mutating func parsePrimary() throws -> Expr {
        let token = advance()
        switch token.kind {
        case .name(let n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .at(token.position, .name(n))
            }
        case .string(var s):
            // Adjacent string literals concatenate.
            while case .string(let more) = current.kind {
                s += more
                _ = advance()
            }
            return .literal(.string(s))
        case .integer(let i): return .literal(.int(i))
        case .float(let d): return .literal(.double(d))
        case .op("("):
            if isOp(")") { _ = advance(); return .tuple([]) }
            let first = try parseExpression()
            if isOp(")") { _ = advance(); return first }
            var items = [first]
            while isOp(",") {
                _ = advance()
                if isOp(")") { break }
                items.append(try parseExpression())
            }
            try expectOp(")")
            return .tuple(items)
        case .op("["):
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            _ = advance()
            return .list(items)
        case .op("{"):
            var pairs: [(Expr, Expr)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let k = try parseExpression()
                try expectOp(":")
                pairs.append((k, try parseExpression()))
            }
            _ = advance()
            return .at(token.position, .dict(pairs))
        default:
            throw syntax("unexpected \(token.describe)", at: token.position)
        }
    }

    private mutating func parsePostfix(_ base: Expr) throws -> Expr {
        var e = base
        while true {
            let p = current.position
            if isOp(".") {
                _ = advance()
                switch current.kind {
                case .name(let n):
                    _ = advance()
                    e = .at(p, .attribute(e, n))
                case .integer(let i):
                    _ = advance()
                    e = .at(p, .item(e, .literal(.int(i))))
                default:
                    throw syntax("expected an attribute name after '.', found \(current.describe)", at: current.position)
                }
            } else if isOp("[") {
                _ = advance()
                e = .at(p, try parseSubscript(e))
                try expectOp("]")
            } else if isOp("(") {
                // A call is reported where its callee starts (`raise_exception(…)`).
                var start = p
                if case .at(let q, _) = e { start = q }
                e = .at(start, try parseCall(e))
            } else {
                return e
            }
        }
    }

    private mutating func parseSubscript(_ base: Expr) throws -> Expr {
        func part(_ parser: inout Parser) throws -> Expr? {
            if parser.isOp(":") || parser.isOp("]") || parser.isOp(",") { return nil }
            return try parser.parseExpression()
        }
        let start = try part(&self)
        if isOp(":") {
            _ = advance()
            let stop = try part(&self)
            var step: Expr?
            if isOp(":") {
                _ = advance()
                step = try part(&self)
            }
            return .slice(base, start: start, stop: stop, step: step)
        }
        guard let start else { throw syntax("expected an index or slice", at: current.position) }
        if isOp(",") {
            var items = [start]
            while isOp(",") {
                _ = advance()
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            return .item(base, .tuple(items))
        }
        return .item(base, start)
    }

    private mutating func parseArguments() throws -> ([Expr], [(String, Expr)]) {
        try expectOp("(")
        var args: [Expr] = []
        var kwargs: [(String, Expr)] = []
        while !isOp(")") {
            if !(args.isEmpty && kwargs.isEmpty) { try expectOp(",") }
            if isOp(")") { break }
            if isOp("*") || isOp("**") {
                throw JinjaError.unsupported(feature: "*args / **kwargs in calls", line: current.position.line, column: current.position.column)
            }
            if case .name(let n) = current.kind, case .op("=") = peek().kind {
                _ = advance(); _ = advance()
                kwargs.append((n, try parseExpression()))
            } else {
                if !kwargs.isEmpty { throw syntax("positional argument after keyword argument", at: current.position) }
                args.append(try parseExpression())
            }
        }
        _ = advance()
        return (args, kwargs)
    }

    private mutating func parseCall(_ callee: Expr) throws -> Expr {
        let (args, kwargs) = try parseArguments()
        return .call(callee, args: args, kwargs: kwargs)
    }

    private mutating func parseFilterCall() throws -> FilterCall {
        let p = current.position
        var name = try expectName()
        while isOp(".") { _ = advance(); name += "." + (try expectName()) }
        var args: [Expr] = [], kwargs: [(String, Expr)] = []
        if isOp("(") { (args, kwargs) = try parseArguments() }
        guard Filters.names.contains(name) else {
            throw JinjaError.unsupported(feature: "the '\(name)' filter", line: p.line, column: p.column)
        }
        return FilterCall(name: name, args: args, kwargs: kwargs, position: p)
    }

    private mutating func parseFilterExpression(_ base: Expr) throws -> Expr {
        var e = base
        while true {
            if isOp("|") {
                _ = advance()
                let f = try parseFilterCall()
                e = .at(f.position, .filter(e, name: f.name, args: f.args, kwargs: f.kwargs))
            } else if isName("is") {
                let p = current.position
                _ = advance()
                var negated = false
                if isName("not") { _ = advance(); negated = true }
                let testPosition = current.position
                let name = try expectName()
                guard TestFunctions.names.contains(name) else {
                    throw JinjaError.unsupported(feature: "the '\(name)' test", line: testPosition.line, column: testPosition.column)
                }
                var args: [Expr] = []
                if isOp("(") {
                    let (a, kw) = try parseArguments()
                    if !kw.isEmpty { throw JinjaError.unsupported(feature: "keyword arguments to tests", line: p.line, column: p.column) }
                    args = a
                } else {
                    switch current.kind {
                    case .name(let n) where !["else", "or", "and", "is", "if", "in", "not"].contains(n):
                        args = [try parsePostfix(try parsePrimary())]
                    case .string, .integer, .float, .op("["), .op("{"):
                        args = [try parsePostfix(try parsePrimary())]
                    default: break
                    }
                }
                e = .at(p, .test(e, name: name, args: args, negated: negated))
            } else if isOp("(") {
                let p = current.position
                e = .at(p, try parseCall(e))
            } else {
                return e
            }
        }
    }
}
