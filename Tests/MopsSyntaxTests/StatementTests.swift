import MopsABI
import Testing

@testable import MopsSyntax

/// One test per statement form: the source on the left parses (and checks) into the
/// tree on the right. Names used are bound by a shared prelude.
let prelude = """
  src = mmap 4 pages
  dst = mmap 4 pages
  u = userfaultfd
  child = fork

  """

func parsesAs(_ line: String, _ expected: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
  let all = describe(prelude + line, sourceLocation: sourceLocation)
  #expect(all.dropFirst(4).joined(separator: "\n") == expected, sourceLocation: sourceLocation)
}

@Suite struct MemoryStatements {
  @Test func mmapDefaultsToAnonPrivateReadWrite() {
    parsesAs("r = mmap 4 pages", "(r = mmap (pages 4))")
    let m = statements("r = mmap 1 page")
    guard case .mmap(let mmap) = m.first?.kind else {
      Issue.record("not an mmap")
      return
    }
    #expect(mmap.wordFlags == [.anonymous, .private])
    #expect(mmap.prot == nil)
  }

  @Test func mmapWithEveryOption() {
    parsesAs(
      "r = mmap 2M at 0x100000200000 prot READ|PROT_WRITE shared fixed noreplace populate locked noreserve",
      "(r = mmap 0x200000 at 0x100000200000 prot (| PROT(1) PROT(2)) words 0x10e011)")
    parsesAs("mmap 16K flags 0x22 => EBADF", "(mmap 16384 raw 34) => EBADF")
    parsesAs("mmap 0 => EINVAL", "(mmap 0) => EINVAL")
    parsesAs("x = mmap 1G prot NONE droppable", "(x = mmap 0x40000000 prot PROT(0) words 0x8)")
  }

  @Test func mmapWordFlagsAddAnonymousAndTheDefaultType() {
    let s = statements("a = mmap 4K shared\nb = mmap 4K fixed at 0x100000000000")
    guard case .mmap(let shared) = s[0].kind, case .mmap(let fixed) = s[1].kind else {
      Issue.record("not mmaps")
      return
    }
    #expect(shared.wordFlags == [.anonymous, .shared])
    #expect(fixed.wordFlags == [.anonymous, .private, .fixed])
  }

  @Test func munmapMprotectMadviseTakeRanges() {
    parsesAs("munmap src[1...2]", "(munmap src[1...2])")
    parsesAs("munmap 0x100000001000 len 8K", "(munmap (len 0x100000001000 8192))")
    parsesAs("munmap src + 1 len 1 page => EINVAL", "(munmap (len (+ src 1) (pages 1))) => EINVAL")
    parsesAs("mprotect src[1] READ", "(mprotect src[1] PROT(1))")
    parsesAs("mprotect src NONE", "(mprotect src PROT(0))")
    parsesAs("mprotect src 0x10 => EINVAL", "(mprotect src 16) => EINVAL")
    parsesAs("madvise src DONTFORK", "(madvise src DONTFORK)")
    parsesAs("madvise src[0..<2] MADV_WIPEONFORK", "(madvise src[0..<2] WIPEONFORK)")
    parsesAs("madvise src 5 => EINVAL", "(madvise src 5) => EINVAL")
  }

  @Test func everyAdviceNameIsAccepted() {
    for (name, advice) in Advice.named {
      let s = statements(prelude + "madvise src \(name)\nmadvise src MADV_\(name)")
      for st in s.suffix(2) {
        guard case .madvise(_, let a) = st.kind else {
          Issue.record("not madvise")
          return
        }
        _ = a
      }
      let checked = checkClean(prelude + "madvise src \(name)")
      if let script = checked?.script, case .madvise(_, let a) = script.statements.last?.kind {
        #expect(script[a].kind == .constant(.advice(advice)))
      }
    }
  }

  @Test func mremapWithEveryFlag() {
    parsesAs("mremap src to 8 pages", "(mremap src to (pages 8))")
    parsesAs("big = mremap src to 8 pages maymove", "(big = mremap src to (pages 8) words 0x1)")
    parsesAs(
      "m2 = mremap src[0] maymove fixed dontunmap at dst[2]", "(m2 = mremap src[0] at dst[2] words 0x7)")
    parsesAs("mremap src flags 8 => EINVAL", "(mremap src raw 8) => EINVAL")
  }

  @Test func touchReadsOrWritesEachPage() {
    parsesAs("touch src[0...3] write 'A'", "(touch src[0...3] write 65)")
    parsesAs("touch src[0]", "(touch src[0] read)")
    parsesAs("touch src read", "(touch src read)")
    parsesAs("touch src[1] write", "(touch src[1] write)")
    parsesAs("touch src + 16 write 0xff => SIGSEGV SEGV_ACCERR", "(touch (+ src 16) write 255) => signal 11 code 2")
    parsesAs("touch dst[0] => userfault at dst[0]", "(touch dst[0] read) => userfault at dst[0]")
    parsesAs("touch src[9] => SIGBUS", "(touch src[9] read) => signal 7")
  }

  @Test func byteLevelWriteAndRead() {
    parsesAs("write src + 16 \"hi\\n\"", "(write (+ src 16) \"hi\n\")")
    parsesAs("write src[1] 'x' 0 255", "(write src[1] 120 0 255)")
    parsesAs("read src[1] + 16 len 4", "(read (len (+ src[1] 16) 4))")
    parsesAs("read src[2] => SIGSEGV SEGV_MAPERR", "(read src[2]) => signal 11 code 1")
  }

  @Test func pinAndUnpin() {
    parsesAs("pin src[0...1]", "(pin src[0...1])")
    parsesAs("unpin src[0...1]", "(unpin src[0...1])")
  }
}

@Suite struct ProcessStatements {
  @Test func forkExitAndOn() {
    parsesAs("grandchild = fork", "(grandchild = fork)")
    parsesAs("fork => ENOMEM", "(fork) => ENOMEM")
    parsesAs("exit child", "(exit child)")
    parsesAs("on child exit", "(on child (exit))")
    parsesAs("on child touch dst[0] write 'B'", "(on child (touch dst[0] write 66))")
    parsesAs("on child touch dst[0] => SIGSEGV", "(on child (touch dst[0] read) => signal 11)")
    parsesAs("on child { touch dst[0] write 'B'; exit }", "(on child { (touch dst[0] write 66) (exit) })")
    parsesAs(
      """
      on child {
        touch dst[0] write 'B'   # a comment inside a block
        gc = fork
      }
      """, "(on child { (touch dst[0] write 66) (gc = fork) })")
  }

  @Test func onMainNamesTheInitialProcess() {
    parsesAs("on main show maps", "(on main (show maps))")
  }

  @Test func forLoopsOverAnIndexRange() {
    parsesAs(
      "for i in 0..<4 { mremap src[i] maymove fixed at dst[i] }",
      "(for i 0..<4 { (mremap src[i] at dst[i] words 0x3) })")
    parsesAs("for i in 0...3 { touch src[i] write i }", "(for i 0...3 { (touch src[i] write i) })")
  }
}

@Suite struct UserfaultfdStatements {
  @Test func createAndNegotiate() {
    parsesAs("v = userfaultfd", "(v = userfaultfd)")
    parsesAs("w = userfaultfd nonblock cloexec user_mode_only", "(w = userfaultfd words 0x80801)")
    parsesAs("userfaultfd flags 0x40 => EINVAL", "(userfaultfd raw 64) => EINVAL")
    parsesAs("api u", "(api u)")
    parsesAs("api u features move event_fork", "(api u words 0x10002)")
    parsesAs("api u version 0xAB => EINVAL", "(api u version 171) => EINVAL")
    parsesAs("api u features 0x20000 => EINVAL", "(api u raw 0x20000) => EINVAL")
  }

  @Test func registerUnregisterClose() {
    parsesAs("register u dst missing", "(register u dst words 0x1)")
    parsesAs("register u dst missing wp", "(register u dst words 0x3)")
    parsesAs("register u dst minor => EINVAL", "(register u dst words 0x4) => EINVAL")
    parsesAs("register u dst mode 0 => EINVAL", "(register u dst raw 0) => EINVAL")
    parsesAs("unregister u dst[1...2]", "(unregister u dst[1...2])")
    parsesAs("close u", "(close u)")
  }

  @Test func remapIsUffdioMove() {
    parsesAs("remap dst <- src via u", "(remap dst <- src via u)")
    parsesAs("remap dst[0] <- src[0] via u => EBUSY", "(remap dst[0] <- src[0] via u) => EBUSY")
    parsesAs(
      "remap dst <- src via u allow_src_holes dontwake => EAGAIN moved 8K",
      "(remap dst <- src via u words 0x3) => EAGAIN moved 8192")
    parsesAs("remap dst[0] <- src[0] via u mode 4 => EINVAL", "(remap dst[0] <- src[0] via u raw 4) => EINVAL")
    parsesAs("remap dst <- src[0] + 0 via u", "(remap dst <- (+ src[0] 0) via u)")
  }

  @Test func theRemapAnonPagesDialect() {
    parsesAs("remap_anon_pages dst <- src", "(remap_anon_pages dst <- src)")
    parsesAs(
      "remap_anon_pages dst <- src allow_src_holes => ENOENT", "(remap_anon_pages dst <- src words 0x1) => ENOENT")
    parsesAs("remap_anon_pages dst <- src flags 2 => EINVAL", "(remap_anon_pages dst <- src raw 2) => EINVAL")
  }

  @Test func copyAndZeropage() {
    parsesAs("copy dst[1] <- src[1] via u", "(copy dst[1] <- src[1] via u)")
    parsesAs("copy dst[1] <- src[1] via u dontwake wp => EEXIST", "(copy dst[1] <- src[1] via u words 0x3) => EEXIST")
    parsesAs("zeropage dst[2] via u", "(zeropage dst[2] via u)")
    parsesAs("zeropage dst[2] via u dontwake => ENOENT moved 0", "(zeropage dst[2] via u words 0x1) => ENOENT moved 0")
  }
}

@Suite struct ObservationStatements {
  @Test func assertWithAndWithoutMessage() {
    parsesAs("assert vmas == 2", "(assert (== (vmas) 2))")
    parsesAs(
      "assert frame dst[0] == frame src[0], \"zero copy\"", "(assert (== (frame dst[0]) (frame src[0])) \"zero copy\")")
  }

  @Test func captureWithAndWithoutLet() {
    parsesAs("f = frame src[0]", "(let f (frame src[0]))")
    parsesAs("let n = mapcount src[0] in child", "(let n (mapcount src[0] in child))")
    parsesAs("let t = src + 4K len 8K", "(let t (len (+ src 4096) 8192))")
  }

  @Test func printShowExpect() {
    parsesAs("print \"vmas:\", vmas, rss", "(print \"vmas:\" (vmas) (rss))")
    parsesAs("show maps", "(show maps)")
    parsesAs("show pages src[0...3]", "(show pages src[0...3])")
    parsesAs("show tree", "(show tree)")
    parsesAs("show stats", "(show stats)")
    parsesAs(
      """
      expect maps {
        100000000000-100000004000 rw-p 00000000  rd wr mr mw me ac
          100000004000-100000008000 rw-p 00000000  rd wr mr mw me ac
      }
      """,
      "(expect maps |100000000000-100000004000 rw-p 00000000  rd wr mr mw me ac| |100000004000-100000008000 rw-p 00000000  rd wr mr mw me ac|)"
    )
    parsesAs("expect pages src[0] {\n}", "(expect pages src[0])")
  }

  @Test func outcomesOfEveryKind() {
    parsesAs("munmap src => ok", "(munmap src) => ok")
    parsesAs("mprotect src READ|EXEC => not modelled", "(mprotect src (| PROT(1) PROT(4))) => not modelled")
    for name in KernelNames.errnoNames {
      parsesAs("munmap src => \(name)", "(munmap src) => \(name)")
    }
  }
}

@Suite struct Expressions {
  func expr(_ e: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> String {
    let all = describe(prelude + "let x = " + e, sourceLocation: sourceLocation)
    return all.last.map { String($0.dropFirst("(let x ".count).dropLast()) } ?? ""
  }

  @Test func sizesAndUnits() {
    #expect(expr("4 pages") == "(pages 4)")
    #expect(expr("1 page") == "(pages 1)")
    #expect(expr("16K") == "16384")
    #expect(expr("2M") == "0x200000")
    #expect(expr("1G") == "0x40000000")
    #expect(expr("1T") == "0x10000000000")
    #expect(expr("0x1000") == "4096")
    #expect(expr("1_000_000") == "0xf4240")
    #expect(expr("'A'") == "65")
    #expect(expr("'\\x41'") == "65")
    #expect(expr("'\\n'") == "10")
    #expect(expr("0xffffffffffffffff") == "0xffffffffffffffff")
  }

  @Test func precedenceAndAssociativity() {
    #expect(expr("1 + 2 * 3") == "(+ 1 (* 2 3))")
    #expect(expr("10 - 2 - 3") == "(- (- 10 2) 3)")
    #expect(expr("(1 + 2) * 3") == "(* (+ 1 2) 3)")
    #expect(expr("2 * 4 pages") == "(* 2 (pages 4))")
    #expect(expr("true or false and false") == "(or true (and false false))")
    #expect(expr("not true and false") == "(and (not true) false)")
    #expect(expr("not vmas == 2") == "(not (== (vmas) 2))")
    #expect(expr("1 < 2 and 3 >= 2 or 1 != 2") == "(or (and (< 1 2) (>= 3 2)) (!= 1 2))")
  }

  @Test func addressArithmeticAndRanges() {
    #expect(expr("src + 8K") == "(+ src 8192)")
    #expect(expr("src[1] + 16") == "(+ src[1] 16)")
    #expect(expr("src[0...3]") == "src[0...3]")
    #expect(expr("src[2..<4]") == "src[2..<4]")
    #expect(expr("0x100000200000") == "0x100000200000")
  }

  @Test func everyObservation() {
    #expect(expr("frame src[0]") == "(frame src[0])")
    #expect(expr("mapcount src[0] + 16") == "(mapcount (+ src[0] 16))")
    #expect(expr("exclusive src[0] in child") == "(exclusive src[0] in child)")
    #expect(expr("anon_exclusive src[0]") == "(anon_exclusive src[0])")
    #expect(
      expr("present src[0] and zeropage dst[0] or none dst[1]")
        == "(or (and (present src[0]) (zeropage dst[0])) (none dst[1]))")
    #expect(expr("writable src[0]") == "(writable src[0])")
    #expect(expr("contents src[0] == 'A'") == "(== (contents src[0]) 65)")
    #expect(expr("byte src + 5") == "(byte (+ src 5))")
    #expect(expr("flags src has dc wf") == "(has (flags src) dc wf)")
    #expect(expr("prot src[1] == READ|WRITE") == "(== (prot src[1]) (| PROT(1) PROT(2)))")
    #expect(expr("mapped src[3]") == "(mapped src[3])")
    #expect(expr("(vma_end src) - (vma_start src)") == "(- (vma_end src) (vma_start src))")
    // An observation's operand extends over + and - (it is an address expression).
    #expect(expr("vma_end src - 4K") == "(vma_end (- src 4096))")
    #expect(expr("size src") == "(size src)")
    #expect(expr("vmas + rss + anon_pages") == "(+ (+ (vmas) (rss)) (anon_pages))")
    #expect(expr("vmas in child") == "(vmas in child)")
    #expect(expr("moved == 8K") == "(== (moved) 8192)")
    #expect(expr("errno == EBUSY") == "(== (errno) EBUSY)")
    #expect(expr("result == 0x13c") == "(== (result) 316)")
    #expect(expr("cost vma_splits") == "(cost vma_splits)")
  }

  @Test func newlinesContinueAfterAnOperatorAndInsideBrackets() {
    let s = describe(prelude + "assert frame src[0] == frame dst[0] and\n  mapcount src[0] == 1\nlet y = (1 +\n 2)")
    #expect(
      s.suffix(2) == ["(assert (and (== (frame src[0]) (frame dst[0])) (== (mapcount src[0]) 1)))", "(let y (+ 1 2))"])
  }
}

@Suite struct Lexing {
  @Test func commentsShebangAndSemicolons() {
    let s = describe("#!/usr/bin/env mops run\n# a comment\nr = mmap 1 page # trailing\ntouch r; touch r write\n")
    #expect(s == ["(r = mmap (pages 1))", "(touch r read)", "(touch r write)"])
  }

  @Test func crlfLineEndings() {
    #expect(describe("r = mmap 1 page\r\ntouch r\r\n") == ["(r = mmap (pages 1))", "(touch r read)"])
  }
}
