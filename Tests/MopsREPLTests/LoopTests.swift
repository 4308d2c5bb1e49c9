import Testing

@testable import MopsREPL

@Test func anOpenBlockContinuesOnTheContinuationPromptUntilItCloses() throws {
  let reader = ScriptedReader(lines: ["on main {", "print 7", "}", "print 8"])
  let run = try runLoop(reader)
  #expect(reader.prompts == ["mops> ", " ...> ", " ...> ", "mops> ", "mops> "])
  #expect(run.out == "7\n8\n")
  #expect(run.err.hasPrefix("mops: a sandbox") && run.err.hasSuffix("type.\n\n"))
}

@Test func anExpressionEndingInAnOperatorContinues() throws {
  let reader = ScriptedReader(lines: ["print 1 +", "2"])
  let run = try runLoop(reader)
  #expect(reader.prompts.prefix(2) == ["mops> ", " ...> "])
  #expect(run.out == "3\n")
}

@Test func anErrorInsideAnUnfinishedBlockIsReportedAtOnce() throws {
  let reader = ScriptedReader(lines: ["r = mmap 1 page", "on r {", "print 1"])
  let run = try runLoop(reader)
  #expect(reader.prompts == ["mops> ", "mops> ", "mops> ", "mops> "])
  #expect(run.err.contains("<repl>:2:4: error: `r` is a region, but a process is needed here"))
}

@Test func aBadLineIsReportedWithACaretAndTheSessionGoesOn() throws {
  let reader = ScriptedReader(lines: ["r = mmap 2 pages", "touch rr[0]", "print size r"])
  let run = try runLoop(reader)
  #expect(run.err.contains("<repl>:2:7: error: `rr` is not bound; did you mean `r`?"))
  #expect(run.err.contains(" 2 | touch rr[0]\n   |       ^~\n"))
  #expect(run.out == "8192\n")
  #expect(run.status == 0)
}

@Test func ctrlCAbandonsTheUnfinishedBlock() throws {
  let reader = ScriptedReader([.line("on main {"), .line("print 1"), .interrupted, .line("print 2")])
  let run = try runLoop(reader)
  #expect(!run.out.contains("1\n"))
  #expect(run.out.contains("2\n"))
  #expect(reader.prompts == ["mops> ", " ...> ", " ...> ", "mops> ", "mops> "])
}

@Test func ctrlDOnAnEmptyLineEndsTheSessionWithStatusZero() throws {
  let run = try runLoop(ScriptedReader([.line("assert false"), .endOfInput]))
  #expect(run.status == 0)
  #expect(run.err.contains("assertion failed"))
}

@Test func aFailedInputIsRolledBack() throws {
  let reader = ScriptedReader(lines: [
    "r = mmap 1 page", "touch r[0] write 'A'; assert mapcount r[0] == 2", "print present r[0]",
  ])
  let run = try runLoop(reader)
  #expect(run.err.contains("assertion failed: mapcount r[0] == 2"))
  #expect(run.err.contains("(rolled back: the session is as it was before this input)"))
  #expect(run.out == "false\n")
}

@Test func thePromptNamesTheCurrentProcessOnceThereAreTwo() throws {
  let reader = ScriptedReader(lines: ["child = fork", "exit child", "print 1"])
  _ = try runLoop(reader)
  #expect(reader.prompts == ["mops> ", "mops[main]> ", "mops> ", "mops> "])
}

@Test func completionSeesTheNamesTheSessionBound() throws {
  let reader = ScriptedReader(lines: ["region = mmap 1 page", "kid = fork"])
  _ = try runLoop(reader)
  #expect(reader.boundNames.contains("region") && reader.boundNames.contains("kid") && reader.boundNames.contains("main"))
}

@Test func backendLinuxIsRefusedWithAReasonAndTheSessionStays() throws {
  let run = try runLoop(ScriptedReader(lines: ["r = mmap 1 page", ":backend linux", "print size r"]))
  #expect(run.err.contains("error: the linux backend is not available in this build; the session stays on sim"))
  #expect(run.out == "4096\n")
}

@Test func resetForgetsEverything() throws {
  let run = try runLoop(ScriptedReader(lines: ["r = mmap 1 page", ":reset", "print size r"]))
  #expect(run.out.contains("the session is empty, on the sim backend"))
  #expect(run.err.contains("`r` is not bound"))
}

@Test func helpListsStatementsAndExplainsOne() throws {
  let run = try runLoop(ScriptedReader(lines: [":help", ":help remap", ":help nonsense"]))
  #expect(run.out.contains("remap_anon_pages"))
  #expect(run.out.contains(":record"))
  #expect(run.out.contains("remap DST <- SRC via UFFD"))
  #expect(run.out.contains("\n    remap dst <- src via u   "))
  #expect(run.err.contains("error: no help on `nonsense`"))
}

@Test func unknownCommandsSuggestTheNearestOne() throws {
  let run = try runLoop(ScriptedReader(lines: [":undi", ":save"]))
  #expect(run.err.contains("unknown command `:undi`; did you mean `:undo`?"))
  #expect(run.err.contains(":save needs FILE"))
}
