import MopsABI
import Testing

@testable import MopsSyntax

/// Prints syntax trees as compact S-expressions, so a parser test states the whole
/// tree it expects in one string.
struct Describer {
  let script: Script

  func expr(_ id: ExprID) -> String {
    switch script[id].kind {
    case .integer(let v): return v > 0xFFFF ? "0x" + String(v, radix: 16) : String(v)
    case .boolean(let b): return String(b)
    case .string(let i): return "\"" + String(decoding: script.strings[Int(i)], as: UTF8.self) + "\""
    case .name(let n): return script.text(n)
    case .constant(let c):
      switch c {
      case .errno(let e): return e.name
      case .prot(let p): return "PROT(\(p.rawValue))"
      case .advice(let a): return a.name
      case .unknown(let symbol): return "?" + script.symbols[Int(symbol)]
      }
    case .not(let x): return "(not \(expr(x)))"
    case .binary(let op, let l, let r): return "(\(op.rawValue) \(expr(l)) \(expr(r)))"
    case .pages(let x): return "(pages \(expr(x)))"
    case .page(let b, let i): return "\(expr(b))[\(expr(i))]"
    case .pageRange(let b, let l, let u, let inclusive):
      return "\(expr(b))[\(expr(l))\(inclusive ? "..." : "..<")\(expr(u))]"
    case .span(let a, let l): return "(len \(expr(a)) \(expr(l)))"
    case .observe(let o, let arg, let p):
      return "(" + o.rawValue + (arg.map { " " + expr($0) } ?? "") + (p.map { " in " + script.text($0) } ?? "") + ")"
    case .cost(let i): return "(cost \(KernelNames.costCounters[Int(i)]))"
    case .has(let x, let words):
      return "(has \(expr(x))" + script.words(words).map { " " + script.symbols[Int($0.symbol)] }.joined() + ")"
    }
  }

  func opt(_ label: String, _ id: ExprID?) -> String { id.map { " \(label) " + expr($0) } ?? "" }
  func bind(_ n: Name?) -> String { n.map { script.text($0) + " = " } ?? "" }
  func flags<F: OptionSet>(_ o: Options<F>) -> String where F.RawValue: BinaryInteger {
    (o.words.rawValue == 0 ? "" : " words 0x" + String(o.words.rawValue, radix: 16)) + opt("raw", o.raw)
  }
  func view(_ v: View) -> String {
    switch v {
    case .maps: return "maps"
    case .pages(let t): return "pages " + expr(t)
    case .tree: return "tree"
    case .stats: return "stats"
    }
  }

  func statement(_ st: Statement) -> String {
    var out: String
    switch st.kind {
    case .mmap(let m):
      out = "(\(bind(m.binding))mmap \(expr(m.length))\(opt("at", m.address))\(opt("prot", m.prot))\(flags(m.flags)))"
    case .munmap(let t): out = "(munmap \(expr(t)))"
    case .mprotect(let t, let p): out = "(mprotect \(expr(t)) \(expr(p)))"
    case .madvise(let t, let a): out = "(madvise \(expr(t)) \(expr(a)))"
    case .mremap(let m):
      out =
        "(\(bind(m.binding))mremap \(expr(m.target))\(opt("to", m.newLength))\(opt("at", m.newAddress))\(flags(m.flags)))"
    case .touch(let t, let access):
      switch access {
      case .read: out = "(touch \(expr(t)) read)"
      case .write(let fill): out = "(touch \(expr(t)) write\(fill.map { " " + expr($0) } ?? ""))"
      }
    case .write(let a, let data): out = "(write \(expr(a))" + data.map { " " + expr($0) }.joined() + ")"
    case .read(let t): out = "(read \(expr(t)))"
    case .fork(let b): out = "(\(bind(b))fork)"
    case .exit(let p): out = "(exit" + (p.map { " " + script.text($0) } ?? "") + ")"
    case .on(let p, let body, let isBlock):
      out =
        "(on \(script.text(p))" + (isBlock ? " {" : "") + body.map { " " + statement($0) }.joined()
        + (isBlock ? " }" : "") + ")"
    case .forLoop(let l):
      out =
        "(for \(script.text(l.variable)) \(expr(l.lower))\(l.inclusive ? "..." : "..<")\(expr(l.upper)) {"
        + l.body.map { " " + statement($0) }.joined() + " })"
    case .userfaultfd(let b, let f): out = "(\(bind(b))userfaultfd\(flags(f)))"
    case .api(let u, let v, let f): out = "(api \(script.text(u))\(opt("version", v))\(flags(f)))"
    case .register(let u, let t, let m): out = "(register \(script.text(u)) \(expr(t))\(flags(m)))"
    case .unregister(let u, let t): out = "(unregister \(script.text(u)) \(expr(t)))"
    case .close(let u): out = "(close \(script.text(u)))"
    case .remap(let d, let s, let u, let m): out = "(remap \(expr(d)) <- \(expr(s)) via \(script.text(u))\(flags(m)))"
    case .remapAnonPages(let d, let s, let f): out = "(remap_anon_pages \(expr(d)) <- \(expr(s))\(flags(f)))"
    case .copy(let d, let s, let u, let m): out = "(copy \(expr(d)) <- \(expr(s)) via \(script.text(u))\(flags(m)))"
    case .zeropage(let d, let u, let m): out = "(zeropage \(expr(d)) via \(script.text(u))\(flags(m)))"
    case .pin(let t): out = "(pin \(expr(t)))"
    case .unpin(let t): out = "(unpin \(expr(t)))"
    case .assert(let c, let m): out = "(assert \(expr(c))" + (m.map { " \"\($0)\"" } ?? "") + ")"
    case .print(let items): out = "(print" + items.map { " " + expr($0) }.joined() + ")"
    case .show(let v): out = "(show \(view(v)))"
    case .expect(let v, let lines): out = "(expect \(view(v))" + lines.map { " |\($0.text)|" }.joined() + ")"
    case .capture(let n, let e): out = "(let \(script.text(n)) \(expr(e)))"
    case .invalid(let b): out = "(invalid" + (b.map { " " + script.text($0) } ?? "") + ")"
    }
    if let o = st.outcome {
      out += " => "
      switch o.kind {
      case .ok: out += "ok"
      case .errno(let e): out += e.name
      case .signal(let signo, let code): out += "signal \(signo)" + (code.map { " code \($0)" } ?? "")
      case .userfault: out += "userfault"
      case .notModelled: out += "not modelled"
      }
      out += opt("moved", o.moved) + opt("at", o.address)
    }
    return out
  }
}

/// The statements of `source` described one per element; fails the test on any
/// diagnostic.
func describe(_ source: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [String] {
  guard let checked = checkClean(source, sourceLocation: sourceLocation) else { return [] }
  let d = Describer(script: checked.script)
  return checked.script.statements.map { d.statement($0) }
}
