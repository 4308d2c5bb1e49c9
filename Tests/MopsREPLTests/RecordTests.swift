import MopsFixtures
import MopsSyntax
import Testing

@testable import MopsREPL

/// `:record` on `t`'s session, submitted as the loop does.
func record(_ t: TestSession) throws -> String {
  let s = t.session
  let text = try #require(try Recorder(interpreter: s.interpreter, backend: s.backend, bindings: s.currentBindings).assertions())
  #expect(t.submit(text) == .accepted(warnings: ""), Comment(rawValue: text))
  return text
}

@Test func recordPinsPagesRunsAndFramesAcrossAFork() throws {
  let t = TestSession()
  t.submit("r = mmap 6 pages", "touch r[0...3] write 'A'", "touch r[4] read", "child = fork")
  t.submit("on child { touch r[1] write 'B' }", "write r[2] + 5 \"hi\"")
  let text = try record(t)
  #expect(
    text == """
      # :record — what the named regions show now
      assert vmas == 1
      assert vmas in child == 1
      assert present r[0] and not zeropage r[0] and mapcount r[0] == 2 and not anon_exclusive r[0] and contents r[0] == 'A'
      assert present r[1] and not zeropage r[1] and mapcount r[1] == 1 and not anon_exclusive r[1] and contents r[1] == 'A'
      assert present r[2] and not zeropage r[2] and mapcount r[2] == 1 and anon_exclusive r[2] and byte r[2] == 'A' and byte r[2] + 5 == 'h' and byte r[2] + 6 == 'i'
      assert present r[3] and not zeropage r[3] and mapcount r[3] == 2 and not anon_exclusive r[3] and contents r[3] == 'A'
      assert zeropage r[4]
      assert none r[5]
      assert present r[0] in child and not zeropage r[0] in child and mapcount r[0] in child == 2 and not anon_exclusive r[0] in child and contents r[0] in child == 'A'
      assert frame r[0] in child == frame r[0]
      assert present r[1] in child and not zeropage r[1] in child and mapcount r[1] in child == 1 and anon_exclusive r[1] in child and contents r[1] in child == 'B'
      assert frame r[1] in child != frame r[1]
      assert present r[2] in child and not zeropage r[2] in child and mapcount r[2] in child == 1 and not anon_exclusive r[2] in child and contents r[2] in child == 'A'
      assert frame r[2] in child != frame r[2]
      assert present r[3] in child and not zeropage r[3] in child and mapcount r[3] in child == 2 and not anon_exclusive r[3] in child and contents r[3] in child == 'A'
      assert frame r[3] in child == frame r[3]
      assert zeropage r[4] in child
      assert none r[5] in child

      """)
  #expect(t.runSaved().status == .passed)
}

@Test func recordFoldsRunsOfLikePagesIntoLoops() throws {
  let t = TestSession()
  t.submit("a = mmap 100 pages", "touch a write 'A'", "b = mmap 4 pages", "kid = fork")
  let text = try record(t)
  #expect(text.contains("for i in 0...99 { assert present a[i] and not zeropage a[i] and mapcount a[i] == 2"))
  #expect(text.contains("for i in 0...99 { assert present a[i] in kid and not zeropage a[i] in kid"))
  #expect(text.contains("; assert frame a[i] in kid == frame a[i] }"))
  #expect(text.contains("for i in 0...3 { assert none b[i] }"))
  #expect(text.split(separator: "\n").count == 7)
  #expect(t.runSaved().status == .passed)
}

@Test func aRecordedFixtureCatchesAChangedOutcome() throws {
  let t = TestSession()
  t.submit("r = mmap 2 pages", "touch r[0] write 'A'", "child = fork")
  _ = try record(t)
  let changed = t.session.savedScript.replacingOccurrences(of: "child = fork\n", with: "madvise r DONTFORK\nchild = fork\n")
  let result = ScriptRun.run(SourceFile(path: "changed.mops", text: changed), backend: .sim)
  #expect(result.status == .failed)
  #expect(result.message.contains("assertion failed"))
}

@Test func recordWithoutRegionsSaysSo() throws {
  let t = TestSession()
  let s = t.session
  #expect(try Recorder(interpreter: s.interpreter, backend: s.backend, bindings: s.currentBindings).assertions() == nil)
}
