import MopsSyntax

/// Every ``Name`` occurrence in a syntax tree, bindings and uses, so `:save` can
/// rename a binding the session redefined (files may bind a name only once).
enum NameOccurrences {
  static func of(_ statements: [Statement]) -> [Name] {
    var names: [Name] = []
    for s in statements { collect(s, into: &names) }
    return names
  }

  private static func collect(_ s: Statement, into names: inout [Name]) {
    func add(_ e: Expr?) { if let e { collect(e, into: &names) } }
    func add<F>(_ o: Options<F>) { add(o.raw) }
    switch s.kind {
    case .mmap(let m):
      if let b = m.binding { names.append(b) }
      add(m.length)
      add(m.address)
      add(m.prot)
      add(m.flags)
    case .munmap(let t), .read(let t), .pin(let t), .unpin(let t):
      add(t)
    case .mprotect(let t, let p):
      add(t)
      add(p)
    case .madvise(let t, let a):
      add(t)
      add(a)
    case .mremap(let m):
      if let b = m.binding { names.append(b) }
      add(m.target)
      add(m.newLength)
      add(m.newAddress)
      add(m.flags)
    case .touch(let t, let access):
      add(t)
      if case .write(let fill) = access { add(fill) }
    case .write(let address, let data):
      add(address)
      data.forEach { add($0) }
    case .fork(let b), .exit(let b), .invalid(let b):
      if let b { names.append(b) }
    case .on(let p, let body, _):
      names.append(p)
      body.forEach { collect($0, into: &names) }
    case .forLoop(let loop):
      names.append(loop.variable)
      add(loop.lower)
      add(loop.upper)
      loop.body.forEach { collect($0, into: &names) }
    case .userfaultfd(let b, let flags):
      if let b { names.append(b) }
      add(flags)
    case .api(let u, let version, let features):
      names.append(u)
      add(version)
      add(features)
    case .register(let u, let t, let mode):
      names.append(u)
      add(t)
      add(mode)
    case .unregister(let u, let t):
      names.append(u)
      add(t)
    case .close(let u):
      names.append(u)
    case .remap(let d, let src, let u, let mode):
      add(d)
      add(src)
      names.append(u)
      add(mode)
    case .remapAnonPages(let d, let src, let flags):
      add(d)
      add(src)
      add(flags)
    case .copy(let d, let src, let u, let mode):
      add(d)
      add(src)
      names.append(u)
      add(mode)
    case .zeropage(let d, let u, let mode):
      add(d)
      names.append(u)
      add(mode)
    case .assert(let condition, _):
      add(condition)
    case .print(let items):
      items.forEach { add($0) }
    case .show(let view), .expect(let view, _):
      if case .pages(let t) = view { add(t) }
    case .capture(let n, let e):
      names.append(n)
      add(e)
    }
    if let outcome = s.outcome {
      add(outcome.moved)
      add(outcome.address)
    }
  }

  private static func collect(_ e: Expr, into names: inout [Name]) {
    switch e.kind {
    case .integer, .boolean, .string, .constant, .cost:
      break
    case .name(let n):
      names.append(n)
    case .not(let x), .pages(let x):
      collect(x, into: &names)
    case .binary(_, let l, let r), .page(let l, let r), .span(let l, let r):
      collect(l, into: &names)
      collect(r, into: &names)
    case .pageRange(let base, let lower, let upper, _):
      collect(base, into: &names)
      collect(lower, into: &names)
      collect(upper, into: &names)
    case .observe(_, let operand, let process):
      if let operand { collect(operand, into: &names) }
      if let process { names.append(process) }
    case .has(let x, _):
      collect(x, into: &names)
    }
  }
}
