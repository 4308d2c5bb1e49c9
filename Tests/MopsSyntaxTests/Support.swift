import Testing

@testable import MopsSyntax

/// The position markers test scripts use, swift-syntax style: `1️⃣` in the script
/// text marks where a diagnostic is expected; the markers are removed before parsing.
let markers = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣"]

/// Removes the markers from `marked`, returning the clean source and each marker's
/// byte offset in it.
func extractMarkers(_ marked: String) -> (source: String, offsets: [String: Int]) {
  var source = ""
  var offsets: [String: Int] = [:]
  var rest = Substring(marked)
  while !rest.isEmpty {
    if let m = markers.first(where: { rest.hasPrefix($0) }) {
      offsets[m] = source.utf8.count
      rest = rest.dropFirst(m.count)
    } else {
      source.append(rest.first!)
      rest = rest.dropFirst()
    }
  }
  return (source, offsets)
}

/// An expected diagnostic: its ID at a marker, and text its message must contain.
struct Expected {
  var id: DiagnosticID
  var marker: String
  var message: String
  init(_ id: DiagnosticID, at marker: String, _ message: String = "") {
    self.id = id
    self.marker = marker
    self.message = message
  }
}

/// Parses and checks `marked` and expects exactly `expected` (in source order),
/// each starting at its marker.
func assertDiagnostics(
  _ marked: String, _ expected: [Expected], sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
  let (source, offsets) = extractMarkers(marked)
  let result = MopsCheck.check(SourceFile(path: "test.mops", text: source))
  let rendered = DiagnosticRenderer().render(result.diagnostics, in: SourceFile(path: "test.mops", text: source))
  #expect(result.diagnostics.count == expected.count, "diagnostics:\n\(rendered)", sourceLocation: sourceLocation)
  for (d, e) in zip(result.diagnostics, expected) {
    #expect(d.id == e.id, "expected \(e.id) at \(e.marker), got:\n\(rendered)", sourceLocation: sourceLocation)
    #expect(
      d.range.start == offsets[e.marker], "\(d.id) at the wrong place:\n\(rendered)", sourceLocation: sourceLocation)
    if !e.message.isEmpty {
      #expect(d.message.contains(e.message), "message of \(d.id): \(d.message)", sourceLocation: sourceLocation)
    }
  }
}

/// Parses and checks `source`, expecting no diagnostic at all; returns the checked script.
@discardableResult
func checkClean(_ source: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> CheckedScript? {
  let file = SourceFile(path: "test.mops", text: source)
  let result = MopsCheck.check(file)
  #expect(
    result.diagnostics.isEmpty, "unexpected diagnostics:\n\(DiagnosticRenderer().render(result.diagnostics, in: file))",
    sourceLocation: sourceLocation)
  return result.checked
}

/// The statements of a script that must parse and check cleanly.
func statements(_ source: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [Statement] {
  checkClean(source, sourceLocation: sourceLocation)?.script.statements ?? []
}
