import Testing

@testable import MopsSyntax

@Test func inputStartingOnALaterLineReportsSessionLineNumbers() {
  let file = SourceFile(path: "<repl>", text: "x = mmap 1 page\ntouch y\n", firstLine: 41)
  var checker = Checker(allowsRebinding: true)
  let result = checker.check(file)
  #expect(file.location(of: 16) == SourceLocation(line: 42, column: 1))
  let rendered = DiagnosticRenderer().render(result.diagnostics, in: file)
  #expect(rendered.hasPrefix("<repl>:42:7: error: `y` is not bound"))
  #expect(rendered.contains("\n 42 | touch y\n"))
  #expect(rendered.contains("\n    |       ^\n"))
}
