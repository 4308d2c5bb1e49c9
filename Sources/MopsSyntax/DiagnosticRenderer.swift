/// Turns diagnostics into the text a person reads. The only place that does.
///
/// ```
/// demo.mops:9:34: error: unknown errno `EBUSSY`; did you mean `EBUSY`? [E0104]
///     9 | remap dst[0] <- src[0] via u => EBUSSY
///       |                                  ^~~~~~
/// ```
/// Lines longer than ``maxLineColumns`` are cut to a window around the range, so a
/// 100 MB line prints as one screen line. Tabs in the source are kept in the caret
/// line so the caret stays aligned.
public struct DiagnosticRenderer: Sendable {
  /// Wrap the severity word and the caret in ANSI colours.
  public var useColor: Bool
  /// The widest source excerpt printed.
  public var maxLineColumns: Int

  public init(useColor: Bool = false, maxLineColumns: Int = 120) {
    self.useColor = useColor
    self.maxLineColumns = maxLineColumns
  }

  /// Renders `diagnostics` (in the order given) and, when `suppressed > 0`, a final
  /// "N more errors not shown" note.
  public func render(_ diagnostics: [Diagnostic], in file: SourceFile, suppressed: Int = 0) -> String {
    var out = ""
    for d in diagnostics { out += render(d, in: file) }
    if suppressed > 0 {
      out +=
        "\(file.path): \(paint("note", .note)): \(suppressed) more "
        + (suppressed == 1 ? "diagnostic" : "diagnostics") + " not shown\n"
    }
    return out
  }

  /// Renders one diagnostic with its source excerpt and its notes.
  public func render(_ d: Diagnostic, in file: SourceFile) -> String {
    var out = header(file, d.range, d.severity, d.message + " [\(d.id.rawValue)]")
    out += excerpt(file, d.range, d.severity)
    for note in d.notes {
      if let r = note.range {
        out += header(file, r, .note, note.message)
        out += excerpt(file, r, .note)
      } else {
        out += "  = \(paint("note", .note)): \(note.message)\n"
      }
    }
    return out
  }

  private func header(_ file: SourceFile, _ range: SourceRange, _ severity: Severity, _ message: String) -> String {
    let loc = file.location(of: range.start)
    return "\(file.path):\(loc.line):\(loc.column): \(paint(severity.rawValue, severity)): \(message)\n"
  }

  /// The source line holding `range.start` and a caret line under the range
  /// (`^` then `~` to the end of the range or of the line).
  private func excerpt(_ file: SourceFile, _ range: SourceRange, _ severity: Severity) -> String {
    guard !file.bytes.isEmpty else { return "" }
    let start = Swift.max(0, Swift.min(range.start, file.bytes.count))
    let lineNumber = file.line(of: start)
    let line = file.lineRange(lineNumber)
    let caretStart = Swift.min(start, line.end)
    let caretEnd = Swift.max(caretStart, Swift.min(range.end, line.end))

    // Cut a window of at most maxLineColumns bytes around the caret: enough context
    // for a person, bounded work for a huge line.
    var windowStart = line.start
    var windowEnd = line.end
    var cutLeft = false
    var cutRight = false
    if line.end - line.start > maxLineColumns {
      let lead = maxLineColumns / 3
      if caretStart - line.start > lead {
        windowStart = caretStart - lead
        while windowStart < caretStart && file.bytes[windowStart] & 0xC0 == 0x80 { windowStart += 1 }
        cutLeft = true
      }
      if line.end - windowStart > maxLineColumns {
        windowEnd = windowStart + maxLineColumns
        while windowEnd > caretStart && windowEnd < line.end && file.bytes[windowEnd] & 0xC0 == 0x80 {
          windowEnd -= 1
        }
        cutRight = true
      }
    }

    let shownText = displayText(file, windowStart, windowEnd)
    let gutter = String(lineNumber + file.firstLine - 1)
    let pad = String(repeating: " ", count: gutter.count)
    let shown = (cutLeft ? "…" : "") + shownText + (cutRight ? "…" : "")
    var out = " \(gutter) |" + (shown.isEmpty ? "" : " " + shown) + "\n"

    var marker = cutLeft ? " " : ""
    var i = windowStart
    while i < caretStart {
      let b = file.bytes[i]
      if b == 0x09 { marker += "\t" } else if b & 0xC0 != 0x80 { marker += " " }
      i += 1
    }
    let visibleEnd = Swift.min(caretEnd, windowEnd)
    let width = Swift.max(1, file.columns(from: caretStart, to: visibleEnd))
    marker += paint("^" + String(repeating: "~", count: width - 1), severity)
    out += " \(pad) | " + marker + "\n"
    return out
  }

  /// Bytes as printable text: valid UTF-8 as is, control bytes and invalid sequences
  /// as one replacement character each (one column per character-starting byte).
  private func displayText(_ file: SourceFile, _ start: Int, _ end: Int) -> String {
    var scalars = String.UnicodeScalarView()
    var i = start
    let bytes = file.bytes
    while i < end {
      let b = bytes[i]
      if b < 0x80 {
        scalars.append(b == 0x09 || (b >= 0x20 && b < 0x7F) ? UnicodeScalar(b) : "\u{FFFD}")
        i += 1
        continue
      }
      if b & 0xC0 == 0x80 {
        i += 1
        continue
      }
      let count = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
      var j = i + 1
      while j < end && j < i + count && bytes[j] & 0xC0 == 0x80 { j += 1 }
      let decoded = String(decoding: bytes[i..<j], as: UTF8.self).unicodeScalars
      if j - i == count && decoded.count == 1, let s = decoded.first, s != "\u{FFFD}" {
        scalars.append(s)
      } else {
        scalars.append("\u{FFFD}")
      }
      i = j
    }
    return String(scalars)
  }

  private func paint(_ text: String, _ severity: Severity) -> String {
    guard useColor else { return text }
    let code = severity == .error ? "1;31" : severity == .warning ? "1;35" : "1;36"
    return "\u{1B}[\(code)m\(text)\u{1B}[0m"
  }
}
