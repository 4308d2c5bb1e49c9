import MopsABI
import MopsBackend
import MopsSyntax

extension Interpreter {
  /// `assert CONDITION [, "message"]`: false fails with the values that made it so;
  /// a condition that needs an observation this backend cannot make is skipped with
  /// the reason (never counted as a pass).
  func assertion(_ condition: ExprID, _ message: String?, _ s: Statement) throws {
    let holds: Bool
    do {
      holds = try bool(condition)
    } catch let u as Unobservable {
      report.skippedChecks.append("line \(line(of: s.range)): `\(firstLine(sourceText(s.range)))` skipped: \(u.reason)")
      if options.trace { output("[\(line(of: s.range))] skipped: \(u.reason)") }
      return
    }
    if holds {
      report.checksPassed += 1
      return
    }
    var notes = (try? values(in: condition)) ?? []
    if let message { notes.insert(DiagnosticNote(message), at: 0) }
    try fail(.assertionFailed, at: span(condition), "assertion failed: \(sourceText(span(condition)))", notes: notes)
  }

  /// "frame dst[0] = frame #2 (pfn 0x…)" for the operands of every comparison in `e`.
  func values(in e: ExprID) throws -> [DiagnosticNote] {
    switch node(e).kind {
    case .binary(let op, let l, let r) where op == .and || op == .or:
      return try values(in: l) + values(in: r)
    case .not(let x):
      return try values(in: x)
    case .binary(let op, let l, let r) where op.isComparison:
      return try [l, r].filter { !isLiteral($0) }.map { DiagnosticNote("\(sourceText(span($0))) = \(describe(try eval($0)))") }
    default:
      return isLiteral(e) ? [] : [DiagnosticNote("\(sourceText(span(e))) = \(describe(try eval(e)))")]
    }
  }

  func isLiteral(_ e: ExprID) -> Bool {
    switch node(e).kind {
    case .integer, .boolean, .string, .constant: return true
    default: return false
    }
  }

  /// `expect VIEW { lines }`: the view's lines, stripped of surrounding blanks, must
  /// equal the block's.
  func expectView(_ view: View, _ lines: [ExpectedLine], _ s: Statement) throws {
    let actual = try text(of: view).split(separator: "\n", omittingEmptySubsequences: false)
      .map { $0.trimmingBlanks() }.filter { !$0.isEmpty }
    let expected = lines.map(\.text).filter { !$0.isEmpty }
    if actual == expected {
      report.checksPassed += 1
      return
    }
    var notes: [DiagnosticNote] = []
    for i in 0..<max(actual.count, expected.count) {
      let a = i < actual.count ? actual[i] : nil
      let x = i < expected.count ? expected[i] : nil
      if a == x { continue }
      let at = i < lines.count ? lines[i].range : nil
      notes.append(DiagnosticNote("expected: \(x ?? "(no line)")\n          actual:   \(a ?? "(no line)")", at: at))
      if notes.count == 5 { break }
    }
    notes.append(DiagnosticNote("the whole view is:\n" + actual.map { "    " + $0 }.joined(separator: "\n")))
    try fail(.viewMismatch, at: s.range, "the view differs from the expected lines", notes: notes)
  }

  // MARK: Views

  /// The text of a view, identical under every backend for the same state.
  func text(of view: View) throws -> String {
    switch view {
    case .maps:
      let vmas = try vmas(current, SourceRange.at(0))
      return vmas.isEmpty ? "(no mappings)" : vmas.map(\.mapsLine).joined(separator: "\n")
    case .pages(let target):
      let (start, length) = try range(target)
      let count = Int(min((length + pageSize - 1) / pageSize, 1 << 16))
      let infos: [PageInfo]
      do { infos = try backend.pages(of: current, at: start, count: max(count, 1)) } catch {
        throw RuntimeFault(message: error.message, range: span(target))
      }
      return pagesTable(infos)
    case .tree:
      return treeText()
    case .stats:
      guard let cost = backend.cost else { return "cost counters are not available on the \(backend.name) backend" }
      return cost.fields.map { "\($0.0) \($0.1)" }.joined(separator: "\n")
    }
  }

  /// One line per page: address, state, frame label, mapcount, exclusive (pagemap
  /// bit 56), anon-exclusive, contents ("?" where the backend did not observe them).
  func pagesTable(_ infos: [PageInfo]) -> String {
    for p in infos where p.state == .zeroPage {
      if let pfn = p.pfn { zeroPFNSeen = pfn }
    }
    return PageInfo.table(infos) { p in p.pfn.map(frameLabel) ?? "?" }
  }

  /// The process tree by script names, with VMA counts and RSS.
  func treeText() -> String {
    var lines: [String] = []
    let live = backend.processes
    func walk(_ pid: PID, _ depth: Int) {
      let info = try? backend.processInfo(pid)
      let marker = pid == current ? " *" : ""
      lines.append(
        String(repeating: "  ", count: depth) + processName(pid)
          + (info.map { ": \($0.vmaCount) VMAs, rss \($0.rssPages) pages" } ?? "") + marker)
      for child in live where backend.parent(of: child) == pid { walk(child, depth + 1) }
    }
    for pid in live where backend.parent(of: pid).map({ !live.contains($0) }) ?? true { walk(pid, 0) }
    return lines.joined(separator: "\n")
  }
}

extension Substring {
  func trimmingBlanks() -> String {
    var s = self[...]
    while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
    while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
    return String(s)
  }
}
