import MopsABI
import MopsBackend
import MopsSyntax

extension Interpreter {
  /// Compares what happened with what the statement expects (success when it says
  /// nothing), records it for `--trace`/`--json`, and fails with an explanation when
  /// they differ.
  func check(_ o: OpOutcome, _ s: Statement, _ op: Operation) throws {
    lastOutcome = o
    let record = StatementRecord(
      line: line(of: s.range), source: sourceText(s.range), outcome: describe(o), value: o.value, field: o.field)
    report.records.append(record)
    if options.trace {
      var text = "[\(record.line)] \(firstLine(record.source)) => \(record.outcome)"
      if let v = o.value, o.result == .ok { text += " (\(hex(v)))" }
      if let f = o.field { text += " field=\(f)" }
      output(text)
    }
    if options.acceptsAnyOutcome { return }
    let expected = s.outcome
    var mismatch: String?
    switch (expected?.kind ?? .ok, o.result) {
    case (.ok, .ok): break
    case (.errno(let want), .errno(let got)) where want == got: break
    case (.signal(let signo, let code), .signal(let sig)) where sig.signo == signo && (code == nil || code == sig.code):
      if let at = expected?.address, try address(at) != sig.addr {
        mismatch = "\(op.syscallName) raised \(sig.name) at \(sig.addr), expected at \(try address(at))"
      }
    case (.userfault, .userfault(let addr)):
      if let at = expected?.address, try address(at) != addr {
        mismatch = "\(op.syscallName) hit a userfault at \(addr), expected at \(try address(at))"
      }
    case (.notModelled, .notModelled): break
    default:
      mismatch = "\(op.syscallName) \(happened(o)); the script expected \(expectation(expected))"
    }
    if mismatch == nil, let movedExpr = expected?.moved {
      let want = try int(movedExpr)
      if o.field == nil || o.field! < 0 || UInt64(o.field!) != want {
        mismatch = "\(op.syscallName) reported \(o.field.map { $0 < 0 ? "\($0) (-\(Errno(rawValue: Int32(-$0)).name))" : "\($0) bytes" } ?? "nothing") moved, expected \(want) bytes"
      }
    }
    if let mismatch {
      try fail(.unexpectedOutcome, at: s.range, mismatch, notes: explain(o, op))
    } else if expected != nil {
      report.checksPassed += 1
    }
  }

  /// "failed with EBUSY", "succeeded", "raised SIGSEGV (SEGV_MAPERR) at 0x…".
  func happened(_ o: OpOutcome) -> String {
    switch o.result {
    case .ok: return "succeeded"
    case .errno(let e):
      var t = "failed with \(e.name)"
      if let f = o.field { t += " (\(fieldName(f)))" }
      return t
    case .signal(let s): return "raised \(s.name) (\(s.codeName)) at \(s.addr)"
    case .userfault(let a): return "hit a userfault at \(a) (the thread would block until it is resolved)"
    case .notModelled(let why): return "was refused: \(why)"
    }
  }

  func fieldName(_ f: Int64) -> String {
    f >= 0 ? "\(f) bytes done" : "field \(f), -\(Errno(rawValue: Int32(truncatingIfNeeded: -f)).name)"
  }

  func expectation(_ e: ExpectedOutcome?) -> String {
    guard let e else { return "success" }
    switch e.kind {
    case .ok: return "success"
    case .errno(let errno): return errno.name
    case .signal(let signo, let code):
      let s = Signal(signo: signo, code: code ?? 0, addr: VirtAddr(0))
      return code == nil ? s.name : "\(s.name) (\(s.codeName))"
    case .userfault: return "a userfault"
    case .notModelled: return "a not-modelled refusal"
    }
  }

  /// The compact outcome text of traces and JSON.
  func describe(_ o: OpOutcome) -> String {
    switch o.result {
    case .ok: return "ok"
    case .errno(let e): return e.name
    case .signal(let s): return "\(s.name) (\(s.codeName)) at \(s.addr)"
    case .userfault(let a): return "userfault at \(a)"
    case .notModelled(let why): return "not modelled: \(why)"
    }
  }

  /// Notes that say why, in the kernel's terms, where the backend knows.
  func explain(_ o: OpOutcome, _ op: Operation) -> [DiagnosticNote] {
    var notes: [DiagnosticNote] = []
    if let reason = o.reason {
      // With provenance, the notes below say who shares the page in the script's terms.
      let check = o.sharing == nil ? reason : String(reason.prefix { $0 != ";" })
      notes.append(DiagnosticNote("why: \(check)"))
    }
    guard let sharing = o.sharing else { return notes }
    let names = sharing.mappedBy.map { "\(processName($0)) (pid \($0.rawValue))" }
    var text = "the page (frame \(frameLabel(sharing.pfn))) is mapped by " + names.joined(separator: " and ")
    let forkLine = sharing.sinceTag ?? sharing.sinceForkChild.flatMap { forkLines[$0] }
    if let forkLine, forkLine > 0 {
      let child = sharing.sinceForkChild.map { " that created \(processName($0))" } ?? ""
      text += "; it has been shared since the fork\(child) at line \(forkLine)"
    }
    notes.append(DiagnosticNote(text))
    if sharing.mappedBy.count > 1, let forkLine, forkLine > 0 {
      notes.append(
        DiagnosticNote(
          "hint: MADV_DONTFORK (or MADV_WIPEONFORK) on this range before the fork at line \(forkLine) would have kept the page exclusive"
        ))
    } else if sharing.mappedBy.count <= 1 {
      notes.append(
        DiagnosticNote(
          "hint: exit and munmap never restore anon-exclusivity; a write to the page first (the write fault reuses it) makes it exclusive again"
        ))
    }
    return notes
  }

  func firstLine(_ text: String) -> String {
    text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
  }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
