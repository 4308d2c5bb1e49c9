import MopsABI
import Testing

@testable import MopsSyntax

@Suite struct SourceFiles {
  @Test func lineTableFindsLinesAndColumns() {
    let file = SourceFile(path: "f", text: "ab\r\ncé\n\nlast")
    #expect(file.lineCount == 4)
    #expect(file.lineStarts == [0, 4, 8, 9])
    #expect(file.line(of: 0) == 1 && file.line(of: 3) == 1 && file.line(of: 4) == 2 && file.line(of: 100) == 4)
    #expect(file.lineRange(1) == SourceRange(0, 2))  // without "\r\n"
    #expect(file.text(file.lineRange(2)) == "cé")
    #expect(file.location(of: 7) == SourceLocation(line: 2, column: 3))  // after the 2-byte é
    #expect(file.location(of: 9).description == "4:1")
    #expect(file.text(SourceRange(-5, 1000)) == "ab\r\ncé\n\nlast")
  }

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

  @Test func emptyFileHasOneLine() {
    let file = SourceFile(path: "e", bytes: [])
    #expect(file.lineCount == 1 && file.lineRange(1) == SourceRange(0, 0))
    #expect(file.location(of: 0) == SourceLocation(line: 1, column: 1))
  }

  @Test func constantsResolveWithAndWithoutPrefixes() {
    #expect(KernelNames.constant("EBUSY") == .errno(.EBUSY))
    #expect(KernelNames.constant("MADV_FREE") == .advice(.FREE))
    #expect(KernelNames.constant("DONTFORK") == .advice(.DONTFORK))
    #expect(KernelNames.constant("PROT_EXEC") == .prot(.exec))
    #expect(KernelNames.constant("NONE") == .prot(.none))
    #expect(KernelNames.constant("EBUSSY") == nil)
  }

  @Test func suggestionsNeedACloseEnoughName() {
    #expect(KernelNames.suggestion(for: "EBSUY", among: KernelNames.errnoNames) == "EBUSY")
    #expect(KernelNames.suggestion(for: "XYZZY", among: KernelNames.errnoNames) == nil)
    #expect(KernelNames.suggestion(for: String(repeating: "a", count: 1000), among: ["a"]) == nil)
  }
}
