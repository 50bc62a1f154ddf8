import Foundation

/// Walks the statement tree and evaluates expressions with jinja2's semantics for the
/// values `transformers` passes (see `JinjaValue`).
final class Interpreter {
    let options: RenderOptions
    private var buffer = ""
    /// Where the expression being evaluated starts, for error messages.
    var position = SourcePosition(line: 1, column: 1)
    let globals: [String: JinjaValue]
    /// Macro calls in progress; bounded (Python stops runaway recursion with RecursionError).
    var callDepth = 0
    static let maximumCallDepth = 100

    init(options: RenderOptions) {
        self.options = options
        self.globals = Globals.make(options: options)
    }

    func fail(_ message: String) -> JinjaError {
        .runtime(message: message, line: position.line, column: position.column)
    }

    func unsupported(_ feature: String) -> JinjaError {
        .unsupported(feature: feature, line: position.line, column: position.column)
    }

    // MARK: - Statements

    func render(_ nodes: [Node], scope: Scope) throws -> String {
        buffer.reserveCapacity(4096)
        let flow = try execute(nodes, scope: scope)
        if flow != .normal { throw fail("'break' or 'continue' outside a loop") }
        return buffer
    }

    /// Renders `nodes` into a separate buffer (macro bodies, block `set`).
    func capture(_ nodes: [Node], scope: Scope) throws -> String {
        let saved = buffer
        buffer = ""
        defer { buffer = saved }
        let flow = try execute(nodes, scope: scope)
        if flow != .normal { throw fail("'break' or 'continue' outside a loop") }
        return buffer
    }

    func execute(_ nodes: [Node], scope: Scope) throws -> ControlFlow {
        for node in nodes {
            switch node {
            case .text(let t):
                buffer += t
            case .output(let e):
                position = e.position
                buffer += try PythonFormatting.str(try evaluate(e.expr, scope))
            case .ifChain(let branches, let otherwise):
                var taken = false
                for branch in branches {
                    position = branch.condition.position
                    if try evaluate(branch.condition.expr, scope).truthy {
                        taken = true
                        let flow = try execute(branch.body, scope: scope)
                        if flow != .normal { return flow }
                        break
                    }
                }
                if !taken {
                    let flow = try execute(otherwise, scope: scope)
                    if flow != .normal { return flow }
                }
            case .forLoop(let loop):
                try executeFor(loop, scope: scope)
            case .set(let target, let e, let p):
                position = e.position
                let value = try evaluate(e.expr, scope)
                position = p
                try assign(target, value, scope: scope)
            case .setBlock(let target, let body, let filters, let p):
                var value = JinjaValue.string(try capture(body, scope: Scope(parent: scope)))
                for f in filters {
                    position = f.position
                    value = try Filters.apply(f.name, value, args: f.args.map { try evaluate($0, scope) },
                                              kwargs: try evaluateKeywords(f.kwargs, scope), self)
                }
                position = p
                try assign(target, value, scope: scope)
            case .macro(let macro):
                scope.variables[macro.name] = makeMacro(macro, definedIn: scope)
            case .breakLoop(let p):
                position = p
                return .breakLoop
            case .continueLoop(let p):
                position = p
                return .continueLoop
            case .generation(let body):
                let flow = try execute(body, scope: scope)
                if flow != .normal { return flow }
            }
        }
        return .normal
    }

    private func assign(_ target: Target, _ value: JinjaValue, scope: Scope) throws {
        // Values that outlive a statement are bounded here, so a loop cannot build one nested
        // deeper than the stack can print, compare or release.
        if case .tuple = target {} else if !value.nestingIsBounded() {
            throw fail("value nested deeper than \(JinjaValue.maximumNesting) levels (or too large) to assign")
        }
        switch target {
        case .name(let n):
            scope.variables[n] = value
        case .namespaceAttribute(let n, let attribute):
            guard case .namespace(let ns)? = scope.lookup(n) ?? globals[n] else {
                throw fail("cannot assign attribute on non-namespace object '\(n)'")
            }
            if attribute.hasPrefix("_") { throw Globals.underscoreError(attribute, self) }
            ns.attributes[attribute] = value
        case .tuple(let targets):
            let items = try iterate(value)
            guard items.count == targets.count else {
                throw fail(items.count > targets.count ? "too many values to unpack (expected \(targets.count))"
                                                        : "not enough values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope: scope) }
        }
    }

    private func executeFor(_ loop: ForLoop, scope: Scope) throws {
        position = loop.iterable.position
        var items = try iterate(try evaluate(loop.iterable.expr, scope))
        if let filter = loop.filter {
            var kept: [JinjaValue] = []
            for item in items {
                let s = Scope(parent: scope)
                try assign(loop.target, item, scope: s)
                position = filter.position
                if try evaluate(filter.expr, s).truthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            _ = try execute(loop.otherwise, scope: scope)
            return
        }
        let n = items.count
        for (i, item) in items.enumerated() {
            let s = Scope(parent: scope)
            var info = JinjaDict()
            info["index"] = .int(i + 1)
            info["index0"] = .int(i)
            info["revindex"] = .int(n - i)
            info["revindex0"] = .int(n - i - 1)
            info["first"] = .bool(i == 0)
            info["last"] = .bool(i == n - 1)
            info["length"] = .int(n)
            info["depth"] = .int(1)
            info["depth0"] = .int(0)
            info["previtem"] = i > 0 ? items[i - 1] : .undefined(hint: "there is no previous item")
            info["nextitem"] = i + 1 < n ? items[i + 1] : .undefined(hint: "there is no next item")
            info["cycle"] = .callable(JinjaCallable(name: "loop.cycle") { args, _, interpreter in
                guard !args.isEmpty else { throw interpreter.fail("no items for cycling given") }
                return args[i % args.count]
            })
            s.variables["loop"] = .dict(info)
            position = loop.position
            try assign(loop.target, item, scope: s)
            let flow = try execute(loop.body, scope: s)
            if flow == .breakLoop { break }
        }
    }

    private func makeMacro(_ macro: Macro, definedIn scope: Scope) -> JinjaValue {
        .callable(JinjaCallable(name: macro.name) { args, kwargs, interpreter in
            guard args.count <= macro.parameters.count else {
                throw interpreter.fail("macro '\(macro.name)' takes not more than \(macro.parameters.count) argument(s)")
            }
            let s = Scope(parent: scope)
            for (i, (name, defaultValue)) in macro.parameters.enumerated() {
                if i < args.count {
                    s.variables[name] = args[i]
                } else if let v = kwargs[name] {
                    s.variables[name] = v
                } else if let defaultValue {
                    s.variables[name] = try interpreter.evaluate(defaultValue, s)
                } else {
                    s.variables[name] = .undefined(hint: "parameter '\(name)' was not provided")
                }
            }
            for key in kwargs.keys where !macro.parameters.contains(where: { $0.0 == key }) {
                throw interpreter.fail("macro '\(macro.name)' takes no keyword argument '\(key)'")
            }
            guard interpreter.callDepth < Interpreter.maximumCallDepth else {
                throw interpreter.fail("macro '\(macro.name)' recursed deeper than \(Interpreter.maximumCallDepth) calls")
            }
            interpreter.callDepth += 1
            let savedPosition = interpreter.position
            defer { interpreter.position = savedPosition; interpreter.callDepth -= 1 }
            return .string(try interpreter.capture(macro.body, scope: s))
        })
    }

    // MARK: - Iteration

    /// Python iteration: lists and tuples by item, dicts by key, strings by character,
    /// Undefined as empty.
    func iterate(_ v: JinjaValue) throws -> [JinjaValue] {
        switch v {
        case .list(let a), .tuple(let a): return a
        case .dict(let d): return d.keys.map { .string($0) }
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default: throw fail("'\(v.typeName)' object is not iterable")
        }
    }

    // MARK: - Expressions

    func evaluateKeywords(_ kwargs: [(String, Expr)], _ scope: Scope) throws -> JinjaDict {
        var d = JinjaDict()
        for (k, e) in kwargs { d[k] = try evaluate(e, scope) }
        return d
    }

    func evaluate(_ expr: Expr, _ scope: Scope) throws -> JinjaValue {
        switch expr {
        case .at(let p, let inner):
            let saved = position
            position = p
            let v = try evaluate(inner, scope)
            position = saved
            return v
        case .literal(let v):
            return v
        case .name(let n):
            if let v = scope.lookup(n) ?? globals[n] { return v }
            return .undefined(n)
        case .list(let items):
            return .list(try items.map { try evaluate($0, scope) })
        case .tuple(let items):
            return .tuple(try items.map { try evaluate($0, scope) })
        case .dict(let pairs):
            var d = JinjaDict()
            for (k, e) in pairs {
                let key = try evaluate(k, scope)
                guard case .string(let ks) = key else { throw unsupported("dict literal keys that are not strings") }
                d[ks] = try evaluate(e, scope)
            }
            return .dict(d)
        case .attribute(let base, let name):
            return try Access.attribute(try evaluate(base, scope), name, self)
        case .item(let base, let index):
            return try Access.item(try evaluate(base, scope), try evaluate(index, scope), self)
        case .slice(let base, let start, let stop, let step):
            func optional(_ e: Expr?) throws -> JinjaValue? {
                guard let e else { return nil }
                let v = try evaluate(e, scope)
                return v.isNone ? nil : v
            }
            return try Access.slice(try evaluate(base, scope), start: try optional(start), stop: try optional(stop),
                                    step: try optional(step), self)
        case .call(let callee, let args, let kwargs):
            let f = try evaluate(callee, scope)
            let a = try args.map { try evaluate($0, scope) }
            let kw = try evaluateKeywords(kwargs, scope)
            return try call(f, a, kw)
        case .filter(let base, let name, let args, let kwargs):
            let value = try evaluate(base, scope)
            return try Filters.apply(name, value, args: try args.map { try evaluate($0, scope) },
                                     kwargs: try evaluateKeywords(kwargs, scope), self)
        case .test(let base, let name, let args, let negated):
            let value = try evaluate(base, scope)
            let result = try TestFunctions.apply(name, value, args: try args.map { try evaluate($0, scope) }, self)
            return .bool(result != negated)
        case .unary(let op, let operand):
            return try Operators.unary(op, try evaluate(operand, scope), self)
        case .binary(let op, let l, let r):
            return try Operators.binary(op, try evaluate(l, scope), try evaluate(r, scope), self)
        case .concat(let parts):
            return .string(try parts.map { try PythonFormatting.str(try evaluate($0, scope)) }.joined())
        case .compare(let first, let ops):
            var left = try evaluate(first, scope)
            for (op, e) in ops {
                let right = try evaluate(e, scope)
                if !(try Operators.compare(op, left, right, self)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .and(let l, let r):
            let a = try evaluate(l, scope)
            return a.truthy ? try evaluate(r, scope) : a
        case .or(let l, let r):
            let a = try evaluate(l, scope)
            return a.truthy ? a : try evaluate(r, scope)
        case .not(let e):
            return .bool(!(try evaluate(e, scope)).truthy)
        case .conditional(let test, let then, let otherwise):
            if try evaluate(test, scope).truthy { return try evaluate(then, scope) }
            if let otherwise { return try evaluate(otherwise, scope) }
            return .undefined(hint: "the inline if-expression evaluated to false and no else section was defined")
        }
    }

    func call(_ f: JinjaValue, _ args: [JinjaValue], _ kwargs: JinjaDict) throws -> JinjaValue {
        switch f {
        case .callable(let c): return try c.call(args, kwargs, self)
        case .undefined(let hint): throw fail(hint + " (so it cannot be called)")
        default: throw fail("'\(f.typeName)' object is not callable")
        }
    }
}
