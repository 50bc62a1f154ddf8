/// Expressions of the template language (jinja2's `nodes.Expr` subset).
indirect enum Expr: Sendable {
    case literal(JinjaValue)
    case name(String)
    case list([Expr])
    case tuple([Expr])
    case dict([(Expr, Expr)])
    /// `a.b`: attribute first, then item (jinja2 `Environment.getattr`).
    case attribute(Expr, String)
    /// `a[b]`: item first, then attribute (jinja2 `Environment.getitem`).
    case item(Expr, Expr)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?)
    case call(Expr, args: [Expr], kwargs: [(String, Expr)])
    case filter(Expr, name: String, args: [Expr], kwargs: [(String, Expr)])
    case test(Expr, name: String, args: [Expr], negated: Bool)
    case unary(String, Expr)
    case binary(String, Expr, Expr)
    /// `a ~ b ~ c`.
    case concat([Expr])
    /// `a < b <= c`: Python's chained comparison.
    case compare(Expr, [(String, Expr)])
    case and(Expr, Expr)
    case or(Expr, Expr)
    case not(Expr)
    case conditional(test: Expr, then: Expr, otherwise: Expr?)
    /// A sub-expression with its source position, so errors inside it name the right place.
    case at(SourcePosition, Expr)
}

/// Assignment targets: a name, `ns.attr`, or a tuple of names (`for k, v in …`).
indirect enum Target: Sendable {
    case name(String)
    case namespaceAttribute(String, String)
    case tuple([Target])
}

/// Statements (jinja2's `nodes.Stmt` subset).
indirect enum Node: Sendable {
    case text(String)
    case output(ExprNode)
    case ifChain([(condition: ExprNode, body: [Node])], otherwise: [Node])
    case forLoop(ForLoop)
    case set(Target, ExprNode, SourcePosition)
    case setBlock(Target, body: [Node], filters: [FilterCall], SourcePosition)
    case macro(Macro)
    case breakLoop(SourcePosition)
    case continueLoop(SourcePosition)
    /// transformers' `{% generation %}` block: renders its body.
    case generation([Node])
}

/// An expression node with its source position (for runtime errors).
final class ExprNode: Sendable {
    let expr: Expr
    let position: SourcePosition
    /// Positions of sub-expressions are carried by wrapping them; this keeps the AST small.
    init(_ expr: Expr, _ position: SourcePosition) {
        self.expr = expr
        self.position = position
    }
}

struct FilterCall: Sendable {
    var name: String
    var args: [Expr]
    var kwargs: [(String, Expr)]
    var position: SourcePosition
}

struct ForLoop: Sendable {
    var target: Target
    var iterable: ExprNode
    var filter: ExprNode?
    var body: [Node]
    var otherwise: [Node]
    var position: SourcePosition
}

final class Macro: Sendable {
    let name: String
    let parameters: [(String, Expr?)]
    let body: [Node]
    let position: SourcePosition
    init(name: String, parameters: [(String, Expr?)], body: [Node], position: SourcePosition) {
        self.name = name
        self.parameters = parameters
        self.body = body
        self.position = position
    }
}
