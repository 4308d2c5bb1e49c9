import Foundation
import MopsSyntax
import Testing

@testable import MopsREPL

/// A checker that has bound what the help examples use.
func checkerForExamples() -> Checker {
  var checker = Checker(allowsRebinding: true)
  let setup = """
    r = mmap 4 pages
    src = mmap 4 pages
    dst = mmap 4 pages
    d = mmap 4 pages
    u = userfaultfd
    f = frame src[0]
    child = fork

    """
  let result = checker.check(SourceFile(path: "setup", text: setup))
  precondition(!result.hasErrors)
  return checker
}

@Test(arguments: Help.entries.map(\.topic))
func helpExampleChecks(_ topic: String) throws {
  let entry = try #require(Help.entries.first { $0.topic == topic })
  var checker = checkerForExamples()
  let file = SourceFile(path: "help \(topic)", text: entry.example.joined(separator: "\n") + "\n")
  let result = checker.check(file)
  #expect(!result.hasErrors, Comment(rawValue: DiagnosticRenderer().render(result.diagnostics, in: file)))
}

/// grammar.md, at the repository root.
let grammar: String = {
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  return (try? String(contentsOf: root.appendingPathComponent("grammar.md"), encoding: .utf8)) ?? ""
}()

@Test(arguments: Help.entries.map(\.topic))
func helpExampleComesFromGrammar(_ topic: String) throws {
  let entry = try #require(Help.entries.first { $0.topic == topic })
  for line in entry.example {
    #expect(grammar.contains(line), "`:help \(topic)` shows a line grammar.md lacks: \(line)")
  }
}

@Test func everyStatementKeywordHasHelp() {
  for k in Completer.statementKeywords { #expect(Help.text(for: k.rawValue) != nil, "no :help \(k.rawValue)") }
}

@Test func metaCommandsParseWithTheirArguments() throws {
  #expect(try MetaCommand.parse(":save  out.mops ").get() == .save(path: "out.mops"))
  #expect(try MetaCommand.parse(":help touch").get() == .help(topic: "touch"))
  #expect(try MetaCommand.parse(":q").get() == .quit)
  #expect(throws: MetaCommandError(message: ":undo takes no argument")) { try MetaCommand.parse(":undo 2").get() }
}
