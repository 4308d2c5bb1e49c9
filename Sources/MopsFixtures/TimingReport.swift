import MopsBackend

/// The table `mops run --timing` prints: per operation class, the time per call on each
/// backend and, for `--backend both`, the live kernel's time over the model's.
public enum TimingReport {
  public static func render(_ timings: [BackendTimings]) -> String {
    guard let first = timings.first else { return "" }
    var names = first.operations.map(\.name)
    for t in timings.dropFirst() {
      for row in t.operations where !names.contains(row.name) { names.append(row.name) }
    }
    func row(_ t: BackendTimings, _ name: String) -> BackendTimings.Row? {
      switch name {
      case "all operations": return t.operationsTotal
      case "observation": return t.observations
      default: return t.operations.first { $0.name == name }
      }
    }
    let width = max(22, (names.map(\.count).max() ?? 0) + 2)
    var header = pad("operation", width) + lpad("count", 7)
    for t in timings { header += lpad("\(t.backend) total", 14) + lpad("\(t.backend)/call", 13) }
    if timings.count == 2 { header += lpad("\(timings[1].backend)÷\(timings[0].backend)", 12) }
    var lines = [header]
    for name in names + ["all operations", "observation"] {
      let rows = timings.map { row($0, name) }
      let count = rows.compactMap { $0?.count }.max() ?? 0
      if count == 0 && name == "observation" { continue }
      var line = pad(name, width) + lpad(String(count), 7)
      for r in rows {
        line += lpad(r.map { duration(Double($0.nanoseconds) / 1e9) } ?? "-", 14)
        line += lpad(r.map { duration($0.secondsPerCall) } ?? "-", 13)
      }
      if rows.count == 2, let a = rows[0], let b = rows[1], a.nanoseconds > 0, b.count > 0 {
        line += lpad(ratio(Double(b.nanoseconds) / Double(a.nanoseconds)), 12)
      }
      lines.append(line)
    }
    var note = "wall time inside each backend"
    if timings.contains(where: { $0.backend == "linux" }) {
      note += "; linux includes the round trip to the worker process"
    }
    if timings.count == 2 { note += "; the ratio is of the totals" }
    return "timing (\(note)):\n" + lines.joined(separator: "\n") + "\n"
  }

  static func duration(_ seconds: Double) -> String {
    if seconds >= 1 { return fixed(seconds, 2) + " s" }
    if seconds >= 1e-3 { return fixed(seconds * 1e3, 2) + " ms" }
    if seconds >= 1e-6 { return fixed(seconds * 1e6, 2) + " µs" }
    return fixed(seconds * 1e9, 0) + " ns"
  }

  static func ratio(_ x: Double) -> String { fixed(x, 1) + "x" }

  static func fixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int((x * scale).rounded())
    guard digits > 0 else { return String(n) }
    var s = String(n)
    while s.count <= digits { s = "0" + s }
    s.insert(".", at: s.index(s.endIndex, offsetBy: -digits))
    return s
  }

  static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
  static func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}
