import MopsABI
import Testing

@testable import MopsSyntax

/// grammar.md and the code must agree: every name the parser accepts and every
/// diagnostic ID is documented, and every example in it parses.
@Suite struct GrammarDocument {
  static let text: String = {
    let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
    let file = "/" + path + "/grammar.md"
    guard let f = fopen(file, "r") else { return "" }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = fread(&buffer, 1, buffer.count, f)
      if n <= 0 { break }
      bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
  }()

  func words(of text: String) -> Set<Substring> {
    Set(text.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }))
  }

  @Test func listsEveryAcceptedName() {
    let doc = words(of: GrammarDocument.text)
    #expect(!doc.isEmpty, "grammar.md not found")
    var names = KernelNames.errnoNames + KernelNames.signals.map(\.name) + KernelNames.signalCodes.map(\.name)
    names += KernelNames.adviceNames + KernelNames.protNames.map(\.0) + KernelNames.vmFlagMnemonics
    names += KernelNames.costCounters + Keyword.allCases.map(\.rawValue)
    names += OptionTables.names(OptionTables.mmap) + OptionTables.names(OptionTables.mremap)
    names += OptionTables.names(OptionTables.userfaultfd) + OptionTables.names(OptionTables.features)
    names += OptionTables.names(OptionTables.register) + OptionTables.names(OptionTables.move)
    names += OptionTables.names(OptionTables.copy)
    names += BackendName.allCases.map(\.rawValue) + Requirement.allCases.map(\.rawValue)
    names += DiagnosticID.all.map(\.rawValue)
    for name in names { #expect(doc.contains(Substring(name)), "grammar.md does not mention \(name)") }
  }

  @Test func everyStatementExampleParses() {
    // The statement examples are the indented lines of the ``` blocks under
    // "## Statements" that do not start with `#`.
    let lines = GrammarDocument.text.split(separator: "\n", omittingEmptySubsequences: false)
    guard let start = lines.firstIndex(of: "## Statements"), let end = lines.firstIndex(of: "## Names") else {
      Issue.record("sections not found")
      return
    }
    var inBlock = false
    var examples: [String] = []
    for line in lines[start..<end] {
      if line.hasPrefix("```") {
        inBlock.toggle()
        continue
      }
      if inBlock { examples.append(String(line)) }
    }
    #expect(examples.count > 60)
    let parsed = MopsParser.parse(SourceFile(path: "grammar.md", text: examples.joined(separator: "\n")))
    let file = SourceFile(path: "grammar.md", text: examples.joined(separator: "\n"))
    #expect(
      parsed.diagnostics.diagnostics.isEmpty, "\(DiagnosticRenderer().render(parsed.diagnostics.diagnostics, in: file))"
    )
  }

  @Test func bindingAStatementWithoutValueIsReported() {
    assertDiagnostics(
      """
      r = mmap 1 page
      x = 1️⃣munmap r
      """, [Expected(.noValue, at: "1️⃣", "gives no value")])
  }
}

#if canImport(Glibc)
  import Glibc
#endif
