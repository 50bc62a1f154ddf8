/// A frame of variables. jinja2 gives each `for` iteration and each macro call a fresh
/// frame whose `set`s do not leak out; `if` shares its enclosing frame.
final class Scope {
    var variables: [String: JinjaValue] = [:]
    let parent: Scope?
    init(parent: Scope?) { self.parent = parent }

    func lookup(_ name: String) -> JinjaValue? {
        var scope: Scope? = self
        while let s = scope {
            if let v = s.variables[name] { return v }
            scope = s.parent
        }
        return nil
    }
}

/// How a statement list finished: normally, or by `{% break %}` / `{% continue %}`.
enum ControlFlow {
    case normal, breakLoop, continueLoop
}
