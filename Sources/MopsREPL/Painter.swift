import Foundation

/// ANSI colour for what the REPL prints on a terminal: page states in `show pages`,
/// address ranges and permissions in `show maps`. Everything else passes unchanged.
struct Painter {
  /// Colour at all (a terminal, and `NO_COLOR` unset).
  var enabled: Bool

  private static let bold = "1"
  private static let dim = "2"
  private static let green = "32"
  private static let yellow = "33"
  private static let cyan = "36"

  func paint(_ text: String) -> String {
    guard enabled else { return text }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let isPagesTable = lines.first?.hasPrefix("address") == true && lines.first?.contains("state") == true
    return lines.enumerated().map { i, line in
      if isPagesTable { return i == 0 ? wrap(String(line), Painter.bold) : pagesRow(line) }
      return mapsLine(line) ?? String(line)
    }.joined(separator: "\n")
  }

  /// `100000000000  present  #1  1  yes  yes  'A'`: the state word coloured.
  private func pagesRow(_ line: Substring) -> String {
    for (word, code) in [("present", Painter.green), ("zero", Painter.cyan), ("none", Painter.dim)] {
      if let r = line.range(of: "  \(word)  ") {
        return String(line[..<r.lowerBound]) + "  " + wrap(word, code) + "  " + line[r.upperBound...]
      }
    }
    return String(line)
  }

  /// `start-end rw-p …`: the range bold and the permissions yellow; nil for other lines.
  private func mapsLine(_ line: Substring) -> String? {
    let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
    guard fields.count == 3, fields[0].contains("-"), fields[0].allSatisfy({ $0.isHexDigit || $0 == "-" }), fields[1].count == 4
    else { return nil }
    return wrap(String(fields[0]), Painter.bold) + " " + wrap(String(fields[1]), Painter.yellow) + " " + fields[2]
  }

  private func wrap(_ text: String, _ code: String) -> String { "\u{1B}[\(code)m\(text)\u{1B}[0m" }
}
