import MopsSyntax
import Testing

@testable import MopsREPL

/// A checker that has bound what the help examples use.
func checkerForExamples() -> Checker {
  var checker = Checker(allowsRebinding: true)
  let setup = "r = mmap 4 pages\nsrc = mmap 4 pages\ndst = mmap 4 pages\nu = userfaultfd\nchild = fork\n"
  let result = checker.check(SourceFile(path: "setup", text: setup))
  precondition(!result.hasErrors)
  return checker
}

@Test(arguments: Help.entries.map(\.topic))
func helpExampleChecks(_ topic: String) throws {
  let entry = try #require(Help.entries.first { $0.topic == topic })
  var checker = checkerForExamples()
  let file = SourceFile(path: "help \(topic)", text: entry.example + "\n")
  let result = checker.check(file)
  #expect(!result.hasErrors, Comment(rawValue: DiagnosticRenderer().render(result.diagnostics, in: file)))
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
