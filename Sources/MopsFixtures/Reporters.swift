import Foundation

/// Renders fixture outcomes as lines, TAP and JUnit XML.
public enum FixtureReport {
  /// One line per fixture: `PASS name (3 ms)`, `FAIL name`, `SKIP name: reason`.
  public static func line(_ o: FixtureOutcome) -> String {
    let ms = Int((o.seconds * 1000).rounded())
    switch o.status {
    case .passed:
      let skips = o.skippedChecks.isEmpty ? "" : " [\(o.skippedChecks.count) check(s) skipped]"
      return "PASS \(o.path) (\(ms) ms)\(skips)"
    case .failed: return "FAIL \(o.path) (\(ms) ms)"
    case .skipped: return "SKIP \(o.path): \(o.message)"
    }
  }

  /// The final summary: `N passed, N failed, N skipped`.
  public static func summary(_ outcomes: [FixtureOutcome]) -> String {
    let passed = outcomes.filter { $0.status == .passed }.count
    let failed = outcomes.filter { $0.status == .failed }.count
    let skipped = outcomes.filter { $0.status == .skipped }.count
    return "\(passed) passed, \(failed) failed, \(skipped) skipped"
  }

  /// Test Anything Protocol, version 13.
  public static func tap(_ outcomes: [FixtureOutcome]) -> String {
    var out = ["TAP version 13", "1..\(outcomes.count)"]
    for (i, o) in outcomes.enumerated() {
      switch o.status {
      case .passed: out.append("ok \(i + 1) - \(o.path)")
      case .skipped: out.append("ok \(i + 1) - \(o.path) # SKIP \(o.message)")
      case .failed:
        out.append("not ok \(i + 1) - \(o.path)")
        out.append("  ---")
        out.append("  message: |")
        out += o.message.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }
        out.append("  ...")
      }
      for check in o.skippedChecks { out.append("# skipped check in \(o.path): \(check)") }
    }
    return out.joined(separator: "\n")
  }

  /// JUnit XML, one `testcase` per fixture.
  public static func junit(_ outcomes: [FixtureOutcome], suite: String = "mops") -> String {
    func esc(_ s: String) -> String {
      var r = ""
      for u in s.unicodeScalars {
        switch u {
        case "&": r += "&amp;"
        case "<": r += "&lt;"
        case ">": r += "&gt;"
        case "\"": r += "&quot;"
        case "\n", "\t": r.unicodeScalars.append(u)
        default:
          if u.value < 0x20 { r += "&#\(u.value);" } else { r.unicodeScalars.append(u) }
        }
      }
      return r
    }
    let failures = outcomes.filter { $0.status == .failed }.count
    let skipped = outcomes.filter { $0.status == .skipped }.count
    let time = outcomes.reduce(0) { $0 + $1.seconds }
    var out = [
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
      "<testsuite name=\"\(esc(suite))\" tests=\"\(outcomes.count)\" failures=\"\(failures)\" skipped=\"\(skipped)\" time=\"\(time)\">",
    ]
    for o in outcomes {
      let open = "  <testcase classname=\"\(esc(suite))\" name=\"\(esc(o.path))\" time=\"\(o.seconds)\""
      switch o.status {
      case .passed: out.append(open + "/>")
      case .skipped:
        out.append(open + ">")
        out.append("    <skipped message=\"\(esc(o.message))\"/>")
        out.append("  </testcase>")
      case .failed:
        out.append(open + ">")
        out.append("    <failure message=\"fixture failed\">\(esc(o.message))</failure>")
        out.append("  </testcase>")
      }
    }
    out.append("</testsuite>")
    return out.joined(separator: "\n")
  }
}
