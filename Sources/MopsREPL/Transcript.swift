import MopsSyntax

/// The inputs a session accepted, in order, and the script `:save` writes from them.
struct Transcript {
  struct Entry {
    /// The input as typed (or the loaded file's text).
    var text: String
    var checked: CheckedScript
  }

  private(set) var entries: [Entry] = []

  mutating func append(_ text: String, _ checked: CheckedScript) {
    entries.append(Entry(text: text, checked: checked))
  }

  mutating func truncate(to count: Int) {
    entries.removeLast(entries.count - count)
  }

  mutating func removeAll() {
    entries.removeAll()
  }

  /// A runnable script of every entry. A file may bind a name only once, so a name
  /// the session bound again is saved under a fresh name from its second binding on
  /// (`r`, `r_2`, …), with every use of that binding renamed to match.
  func script(bindings: [Binding], backend: String) -> String {
    let names = savedNames(bindings)
    var out = "# Saved from a mops session on the \(backend) backend; run it with `mops run FILE`.\n"
    let renamed = bindings.indices.filter { names[$0] != bindings[$0].name }
    if !renamed.isEmpty {
      let list = renamed.map { "`\(bindings[$0].name)` as `\(names[$0])`" }.joined(separator: ", ")
      out += "# The session bound some names more than once; later bindings are saved as \(list).\n"
    }
    for e in entries {
      out += rename(e, names)
      if !out.hasSuffix("\n") { out += "\n" }
    }
    return out
  }

  /// The name each binding is saved under.
  private func savedNames(_ bindings: [Binding]) -> [String] {
    var loopVariables = Set<BindingID>()
    for e in entries {
      for n in NameOccurrences.of(e.checked.script) where isLoopVariable(n, in: e.checked.script.statements) {
        loopVariables.insert(e.checked.binding(for: n))
      }
    }
    var taken = Set(bindings.map(\.name))
    var bound = Set<String>()
    var names = bindings.map(\.name)
    for id in bindings.indices where !loopVariables.contains(id) {
      let name = bindings[id].name
      if bound.insert(name).inserted { continue }
      var n = 2
      while taken.contains("\(name)_\(n)") { n += 1 }
      names[id] = "\(name)_\(n)"
      taken.insert(names[id])
    }
    return names
  }

  private func isLoopVariable(_ name: Name, in statements: [Statement]) -> Bool {
    statements.contains { s in
      switch s.kind {
      case .forLoop(let loop): return loop.variable == name || isLoopVariable(name, in: loop.body)
      case .on(_, let body, _): return isLoopVariable(name, in: body)
      default: return false
      }
    }
  }

  /// The entry's text with each name occurrence replaced by its binding's saved name.
  private func rename(_ e: Entry, _ names: [String]) -> String {
    var bytes = Array(e.text.utf8)
    let occurrences = NameOccurrences.of(e.checked.script).filter { n in
      let id = e.checked.binding(for: n)
      return id >= 0 && names[id] != e.checked.script.text(n)
    }
    guard !occurrences.isEmpty else { return e.text }
    for n in occurrences.sorted(by: { $0.range.start > $1.range.start }) {
      bytes.replaceSubrange(n.range.start..<n.range.end, with: Array(names[e.checked.binding(for: n)].utf8))
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
