import MopsSyntax

/// Every ``Name`` occurrence in a script, bindings and uses, so `:save` can rename a
/// binding the session redefined (files may bind a name only once).
enum NameOccurrences {
  static func of(_ script: Script) -> [Name] {
    var names: [Name] = []
    for e in script.exprs {
      switch e.kind {
      case .name(let n), .observe(_, _, process: let n?): names.append(n)
      default: continue
      }
    }
    collect(script.statements, into: &names)
    return names
  }

  /// The names statements hold outside expressions: bindings, processes, userfaultfds
  /// and loop variables.
  private static func collect(_ statements: [Statement], into names: inout [Name]) {
    for s in statements {
      switch s.kind {
      case .mmap(let m):
        if let b = m.binding { names.append(b) }
      case .mremap(let m):
        if let b = m.binding { names.append(b) }
      case .fork(let n), .exit(let n), .userfaultfd(let n, _), .invalid(let n):
        if let n { names.append(n) }
      case .on(let p, let body, _):
        names.append(p)
        collect(body, into: &names)
      case .forLoop(let loop):
        names.append(loop.variable)
        collect(loop.body, into: &names)
      case .api(let u, _, _), .register(let u, _, _), .unregister(let u, _), .close(let u), .remap(_, _, let u, _),
        .copy(_, _, let u, _), .zeropage(_, let u, _), .capture(let u, _):
        names.append(u)
      case .munmap, .mprotect, .madvise, .touch, .write, .read, .remapAnonPages, .pin, .unpin, .assert, .print,
        .show, .expect:
        continue
      }
    }
  }
}
