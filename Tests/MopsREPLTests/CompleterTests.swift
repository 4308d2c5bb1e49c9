import Testing

@testable import MopsREPL

@Test func theFirstWordCompletesToStatementsAndBoundNames() {
  let c = Completer(boundNames: ["main", "region", "remote"])
  #expect(c.candidates(for: "rem", after: "") == ["remap", "remap_anon_pages", "remote"])
  #expect(c.candidates(for: "pri", after: "  ") == ["print"])
  #expect(c.candidates(for: "m", after: "") == ["madvise", "main", "mmap", "mprotect", "mremap", "munmap"])
}

@Test func laterWordsCompleteToKeywordsOptionsAndBoundNames() {
  let c = Completer(boundNames: ["main", "region", "remote"])
  #expect(c.candidates(for: "re", after: "touch ") == ["read", "region", "register", "remap", "remap_anon_pages", "remote", "result"])
  #expect(c.candidates(for: "may", after: "mremap r to 8 pages ") == ["maymove"])
}

@Test func uppercaseWordsCompleteToKernelConstants() {
  let c = Completer()
  #expect(c.candidates(for: "EBU", after: "assert errno == ") == ["EBUSY"])
  #expect(c.candidates(for: "SIGS", after: "touch r => ") == ["SIGSEGV"])
  #expect(c.candidates(for: "PROT_", after: "").isEmpty)
  #expect(c.candidates(for: "REA", after: "mprotect r ") == ["READ"])
}

@Test func adviceAfterMadviseAndOutcomesAfterTheArrow() {
  let c = Completer(boundNames: ["r"])
  #expect(c.candidates(for: "DONTF", after: "madvise r ") == ["DONTFORK"])
  #expect(c.candidates(for: "MADV_DONTF", after: "madvise r[0...3] ") == ["MADV_DONTFORK"])
  #expect(c.candidates(for: "", after: "madvise r ").count == 50)
  #expect(c.candidates(for: "EEX", after: "remap dst <- src via u => ") == ["EEXIST"])
  #expect(c.candidates(for: "us", after: "touch r[0] => ") == ["userfault"])
}

@Test func colonCompletesMetaCommandsAndHelpTopics() {
  let c = Completer()
  #expect(c.candidates(for: ":re", after: "") == [":record", ":reset"])
  #expect(c.candidates(for: "remap", after: ":help ") == ["remap", "remap_anon_pages"])
}
