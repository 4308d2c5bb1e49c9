import Testing

@testable import MopsSyntax

/// The exact text of rendered diagnostics: location, severity, message with ID, the
/// source line and a caret under the range.
@Suite struct Renderer {
  func render(_ source: String) -> String {
    let file = SourceFile(path: "demo.mops", text: source)
    let result = MopsCheck.check(file)
    return DiagnosticRenderer().render(result.diagnostics, in: file, suppressed: result.suppressedCount)
  }

  @Test func caretUnderlinesTheWholeRange() {
    #expect(
      render("src = mmap 1 page\nmunmap src => EBUSSY\n") == """
        demo.mops:2:15: error: unknown errno `EBUSSY`; did you mean `EBUSY`?; grammar.md lists the accepted names [E0104]
         2 | munmap src => EBUSSY
           |               ^~~~~~

        """)
  }

  @Test func notesPointAtTheirOwnLine() {
    #expect(
      render("src = mmap 1 page\nsrc = mmap 1 page\n") == """
        demo.mops:2:1: error: `src` is already bound; choose another name [E0204]
         2 | src = mmap 1 page
           | ^~~
        demo.mops:1:1: note: `src` is first bound here
         1 | src = mmap 1 page
           | ^~~

        """)
  }

  @Test func columnsCountCharactersAndTabsStayAligned() {
    #expect(
      render("print \"é\", \tbogus\n") == """
        demo.mops:1:13: error: `bogus` is not bound; bind it first, e.g. `bogus = mmap 1 page` [E0201]
         1 | print "é", \tbogus
           |            \t^~~~~

        """)
  }

  @Test func anEmptyRangeAtTheEndOfInputGetsOneCaret() {
    #expect(
      render("c = fork\non c {\n") == """
        demo.mops:3:1: error: unexpected end of input: a `{` is not closed; add `}` [E0100]
         3 |
           | ^
        demo.mops:2:6: note: the block opens here
         2 | on c {
           |      ^

        """)
  }

  @Test func aHugeLineIsCutToAWindowAroundTheCaret() {
    let line = "print \"" + String(repeating: "abcd", count: 10_000) + "\" @"
    let out = render(line)
    let lines = out.split(separator: "\n")
    #expect(lines.count == 3)
    #expect(lines[0].hasPrefix("demo.mops:1:40010: error: unexpected character `@`"))
    #expect(lines[1].hasPrefix(" 1 | …") && lines[1].hasSuffix("abcd\" @"))
    #expect(lines[1].count < 140)
    #expect(lines[2].hasSuffix("^"))
    #expect(lines[2].count == lines[1].count)
  }

  @Test func invalidUTF8IsShownAsReplacementCharacters() {
    var bytes = Array("print \"".utf8)
    bytes += [0xFF, 0xC3]
    bytes += Array("\" @\n".utf8)
    let file = SourceFile(path: "bin.mops", bytes: bytes)
    let result = MopsCheck.check(file)
    #expect(
      DiagnosticRenderer().render(result.diagnostics, in: file) == """
        bin.mops:1:12: error: unexpected character `@` [E0001]
         1 | print "\u{FFFD}\u{FFFD}" @
           |            ^

        """)
  }

  @Test func suppressedDiagnosticsAreCounted() {
    let source = String(repeating: "@\n", count: 150)
    let out = render(source)
    #expect(out.hasSuffix("demo.mops: note: 50 more diagnostics not shown\n"))
    #expect(out.split(separator: "\n").filter { $0.contains(": error: ") }.count == 100)
  }

  @Test func colorWrapsSeverityAndCaret() {
    let file = SourceFile(path: "c.mops", text: "@")
    let d = MopsCheck.check(file).diagnostics
    let out = DiagnosticRenderer(useColor: true).render(d, in: file)
    #expect(out.contains("\u{1B}[1;31merror\u{1B}[0m"))
    #expect(out.contains("\u{1B}[1;31m^\u{1B}[0m"))
  }
}
