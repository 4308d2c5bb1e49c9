import Foundation
import MopsABI
import MopsBackend
import MopsInterpreter
import MopsSyntax

/// `:record`: assertions that pin what the named regions show now, in every live
/// process the session can name, so an exploration saved with `:save` becomes a
/// regression fixture.
///
/// Per process: the VMA count. Per page of each region: none / zero page / present,
/// and for a present page its mapcount, anon-exclusivity and contents. Frames are
/// pinned relative to each other, never by number: a frame seen before (in another
/// region or process) is asserted equal to its first sighting, and a page that another
/// process maps at the same place with a different frame is asserted different.
/// Runs of pages that read the same become one `for` loop.
struct Recorder {
  let interpreter: Interpreter
  let backend: Backend
  /// The session's current bindings, in binding order.
  let bindings: [(name: String, id: BindingID, kind: NameKind)]

  /// A page position in the assertions: region, page index, process.
  private struct Place: Hashable {
    var region: Int
    var index: Int
    var process: Int
  }

  /// How a page's frame relates to one seen earlier.
  private enum FrameRelation: Equatable {
    case none
    /// The same frame as page `index + delta` of region `region` in process `process`.
    case same(region: Int, delta: Int, process: Int)
    /// Another process maps this page at the same place with a different frame.
    case differs(process: Int)
  }

  /// The statements to append; nil when there is no named region.
  func assertions() throws(BackendError) -> String? {
    let regions = bindings.compactMap { b -> (name: String, start: VirtAddr, pages: Int)? in
      guard b.kind == .region, let r = interpreter.range(of: b.id) else { return nil }
      return (b.name, r.start, Int((r.length + pageSize - 1) / pageSize))
    }
    guard !regions.isEmpty else { return nil }
    let processes = nameableProcesses()
    let loopVariable = freshName()
    var lines = ["# :record — what the named regions show now"]
    for (p, process) in processes.enumerated() {
      lines.append("assert vmas\(suffix(p, processes)) == \(try backend.processInfo(process.pid).vmaCount)")
    }
    var firstSighting: [PFN: Place] = [:]
    var pfnAt: [Place: PFN] = [:]
    for (r, region) in regions.enumerated() {
      for (p, process) in processes.enumerated() {
        let pages = try backend.pages(of: process.pid, at: region.start, count: region.pages)
        var rows: [(clauses: [String], frame: FrameRelation)] = []
        for (i, page) in pages.enumerated() {
          let here = Place(region: r, index: i, process: p)
          var relation = FrameRelation.none
          if page.state == .present, let pfn = page.pfn {
            pfnAt[here] = pfn
            if let first = firstSighting[pfn] {
              relation = .same(region: first.region, delta: first.index - i, process: first.process)
            } else {
              firstSighting[pfn] = here
              if let other = (0..<p).first(where: { pfnAt[Place(region: r, index: i, process: $0)] != nil }) {
                relation = .differs(process: other)
              }
            }
          }
          rows.append((clauses(page), relation))
        }
        lines += runs(of: rows).map { run in
          render(run, rows[run.lowerBound], region: region.name, process: p, processes, regions.map(\.name), loopVariable)
        }
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  // MARK: Names

  /// The current process first, then every other live process that a current binding names.
  private func nameableProcesses() -> [(name: String?, pid: PID)] {
    let current = interpreter.currentProcess
    var result: [(name: String?, pid: PID)] = [(nil, current)]
    for b in bindings where b.kind == .process {
      guard let pid = interpreter.process(of: b.id), pid != current, backend.processes.contains(pid),
        !result.contains(where: { $0.pid == pid })
      else { continue }
      result.append((b.name, pid))
    }
    return result
  }

  private func suffix(_ p: Int, _ processes: [(name: String?, pid: PID)]) -> String {
    processes[p].name.map { " in \($0)" } ?? ""
  }

  /// A loop variable no binding uses.
  private func freshName() -> String {
    let taken = Set(bindings.map(\.name))
    let candidates = ["i", "j", "k", "n"]
    if let free = candidates.first(where: { !taken.contains($0) }) { return free }
    var n = 2
    while taken.contains("i_\(n)") { n += 1 }
    return "i_\(n)"
  }

  // MARK: Clauses

  /// The conditions on one page, with `%p` for the page and `%in` for ` in PROCESS`.
  private func clauses(_ page: PageInfo) -> [String] {
    switch page.state {
    case .none: return ["none %p%in"]
    case .zeroPage: return ["zeropage %p%in"]
    case .present:
      var c = ["present %p%in", "not zeropage %p%in"]
      if let m = page.mapcount { c.append("mapcount %p%in == \(m)") }
      if let x = page.anonExclusive ?? (page.shared ? false : nil) { c.append((x ? "" : "not ") + "anon_exclusive %p%in") }
      let contents = page.contents ?? .zero
      if contents.bytes.isEmpty {
        c.append("contents %p%in == \(literal(contents.fill))")
      } else {
        if let plain = (0..<UInt16(pageSize)).first(where: { contents.bytes[$0] == nil }) {
          c.append("byte %p\(offset(plain))%in == \(literal(contents.fill))")
        }
        for (o, b) in contents.bytes.sorted(by: { $0.key < $1.key }) {
          c.append("byte %p\(offset(o))%in == \(literal(b))")
        }
      }
      return c
    }
  }

  private func offset(_ o: UInt16) -> String { o == 0 ? "" : " + \(o)" }

  /// A byte as the language writes it: `'A'` when printable, else a number.
  private func literal(_ b: UInt8) -> String {
    (0x20...0x7e).contains(b) && b != 0x27 && b != 0x5c ? "'\(Character(UnicodeScalar(b)))'" : String(b)
  }

  // MARK: Runs

  /// Maximal runs of consecutive pages with the same clauses and frame relation.
  private func runs(of rows: [(clauses: [String], frame: FrameRelation)]) -> [Range<Int>] {
    guard !rows.isEmpty else { return [] }
    var result: [Range<Int>] = []
    var start = 0
    for i in 1...rows.count where i == rows.count || rows[i].clauses != rows[start].clauses || rows[i].frame != rows[start].frame {
      result.append(start..<i)
      start = i
    }
    return result
  }

  /// One `assert` (or a `for` loop of them) for a run of pages.
  private func render(
    _ run: Range<Int>, _ row: (clauses: [String], frame: FrameRelation), region: String, process p: Int,
    _ processes: [(name: String?, pid: PID)], _ regionNames: [String], _ variable: String
  ) -> String {
    let single = run.count == 1
    let index = single ? String(run.lowerBound) : variable
    let page = "\(region)[\(index)]"
    let within = suffix(p, processes)
    var conditions = [row.clauses.map { $0.replacingOccurrences(of: "%p", with: page).replacingOccurrences(of: "%in", with: within) }.joined(separator: " and ")]
    switch row.frame {
    case .none: break
    case .same(let r, let delta, let q):
      let other: String
      if single {
        other = String(run.lowerBound + delta)
      } else {
        other = delta == 0 ? variable : delta > 0 ? "\(variable) + \(delta)" : "\(variable) - \(-delta)"
      }
      conditions.append("frame \(page)\(within) == frame \(regionNames[r])[\(other)]\(suffix(q, processes))")
    case .differs(let q):
      conditions.append("frame \(page)\(within) != frame \(page)\(suffix(q, processes))")
    }
    let body = conditions.map { "assert " + $0 }
    if single { return body.joined(separator: "\n") }
    return "for \(variable) in \(run.lowerBound)...\(run.upperBound - 1) { " + body.joined(separator: "; ") + " }"
  }
}
