import Testing

@testable import MopsSyntax

/// Parser and checker diagnostics, with the expected position marked inline in the
/// script text (`1️⃣`), swift-syntax style.
@Suite struct ParserDiagnostics {
  @Test func unknownErrnoSuggestsTheClosestName() {
    assertDiagnostics(
      """
      r = mmap 1 page
      munmap r => 1️⃣EBUSSY
      """, [Expected(.unknownErrno, at: "1️⃣", "did you mean `EBUSY`?")])
  }

  @Test func unknownSignalAndSignalCode() {
    assertDiagnostics(
      """
      r = mmap 1 page
      touch r => 1️⃣SIGSEV
      touch r => SIGBUS 2️⃣SEGV_MAPERR
      """,
      [
        Expected(.unknownSignal, at: "1️⃣", "did you mean `SIGSEGV`?"),
        Expected(.unknownSignal, at: "2️⃣", "not a SIGBUS code"),
      ])
  }

  @Test func everyIndependentErrorIsReportedInOneRun() {
    assertDiagnostics(
      """
      r = mmap 4 pages 1️⃣shraed
      2️⃣mmpa 4 pages
      touch r[0] write 'A'
      remap r[0] <- r[1] 3️⃣u
      munmap r => 4️⃣
      5️⃣}
      """,
      [
        Expected(.unknownOption, at: "1️⃣", "did you mean `shared`?"),
        Expected(.expectedStatement, at: "2️⃣", "did you mean `mmap`?"),
        Expected(.expectedToken, at: "3️⃣", "expected `via UFFD`"),
        Expected(.invalidOutcome, at: "4️⃣"),
        Expected(.unbalancedBrace, at: "5️⃣"),
      ])
  }

  @Test func lexicalErrors() {
    assertDiagnostics(
      """
      let a = 1️⃣99999999999999999999
      let b = 162️⃣k
      let c = 3️⃣'AB'
      print 4️⃣"open
      let d = 5️⃣0x
      let e = 1 6️⃣&& 2
      let f = 7️⃣@
      """,
      [
        Expected(.numberTooLarge, at: "1️⃣", "64 bits"),
        Expected(.invalidNumber, at: "2️⃣", "uppercase"),
        Expected(.invalidCharacterLiteral, at: "3️⃣"),
        Expected(.unterminatedString, at: "4️⃣"),
        Expected(.invalidNumber, at: "5️⃣"),
        Expected(.unknownOperator, at: "6️⃣", "`and`"),
        Expected(.invalidCharacter, at: "7️⃣"),
      ])
  }

  @Test func reservedAndCapitalizedNames() {
    assertDiagnostics(
      """
      1️⃣frame = mmap 1 page
      2️⃣Src = mmap 1 page
      """,
      [
        Expected(.reservedName, at: "1️⃣", "reserved word"),
        Expected(.capitalizedName, at: "2️⃣", "lowercase"),
      ])
  }

  @Test func extraInputAfterAStatement() {
    assertDiagnostics(
      """
      r = mmap 1 page
      munmap r 1️⃣r
      """, [Expected(.extraInput, at: "1️⃣")])
  }

  @Test func comparisonsDoNotChainAndAssignIsNotEquality() {
    assertDiagnostics(
      """
      assert 1 == 1 1️⃣== 1
      assert vmas 2️⃣= 2
      """,
      [
        Expected(.expectedToken, at: "1️⃣", "do not chain"),
        Expected(.expectedToken, at: "2️⃣", "`==`"),
      ])
  }

  @Test func unknownViewAndCounter() {
    assertDiagnostics(
      """
      show 1️⃣map
      print cost 2️⃣vma_split
      """,
      [
        Expected(.unknownView, at: "1️⃣", "did you mean `maps`?"),
        Expected(.unknownCounter, at: "2️⃣", "did you mean `vma_splits`?"),
      ])
  }

  @Test func theTwoThousandFourteenDialectTakesNoUffd() {
    assertDiagnostics(
      """
      a = mmap 1 page
      b = mmap 1 page
      u = userfaultfd
      remap_anon_pages b <- a 1️⃣via u
      """, [Expected(.unknownOption, at: "1️⃣", "write `remap`")])
  }

  @Test func anErrorInsideABlockDoesNotHideTheRest() {
    assertDiagnostics(
      """
      c = fork
      on c {
        touch 1️⃣
        2️⃣bogus
      }
      on 3️⃣5 {
        touch 4️⃣
      }
      """,
      [
        Expected(.expectedExpression, at: "1️⃣"),
        Expected(.expectedStatement, at: "2️⃣"),
        Expected(.expectedToken, at: "3️⃣"),
        Expected(.expectedExpression, at: "4️⃣"),
      ])
  }

  @Test func directives() {
    let (source, _) = extractMarkers(
      """
      #!/usr/bin/env mops run
      # mops: skip linux, both: the 2014 syscall exists only in the model
      # mops: needs root: frames come from /proc/kpageflags
      # mops: only sim: uses cost counters
      # mops: expect-error E0204
      r = mmap 1 page
      """)
    let parsed = MopsParser.parse(SourceFile(path: "t.mops", text: source))
    #expect(parsed.diagnostics.diagnostics.isEmpty)
    #expect(
      parsed.script.directives.map(\.kind) == [
        .skip([.linux, .both]), .needs([.root]), .only([.sim]), .expectError([DiagnosticID(rawValue: "E0204")]),
      ])
    #expect(parsed.script.directives.first?.reason == "the 2014 syscall exists only in the model")
  }

  @Test func badDirectives() {
    assertDiagnostics(
      """
      # mops:1️⃣ skip linux
      # mops:2️⃣ skip linnux: reason
      # mops:3️⃣ needs rooot
      # mops:4️⃣ skipp sim: reason
      r = mmap 1 page
      # mops:5️⃣ needs root
      """,
      [
        Expected(.invalidDirective, at: "1️⃣", "say why"),
        Expected(.invalidDirective, at: "2️⃣", "did you mean `linux`?"),
        Expected(.invalidDirective, at: "3️⃣", "did you mean `root`?"),
        Expected(.invalidDirective, at: "4️⃣", "did you mean `skip`?"),
        Expected(.lateDirective, at: "5️⃣"),
      ])
  }
}

@Suite struct CheckerDiagnostics {
  @Test func useBeforeBindingPointsAtTheLaterBinding() {
    let (source, offsets) = extractMarkers(
      """
      touch 1️⃣dst[0]
      2️⃣dst = mmap 1 page
      """)
    let result = MopsCheck.check(SourceFile(path: "t.mops", text: source))
    #expect(result.diagnostics.count == 1)
    #expect(result.diagnostics.first?.id == .usedBeforeBinding)
    #expect(result.diagnostics.first?.range.start == offsets["1️⃣"])
    #expect(result.diagnostics.first?.notes.first?.range?.start == offsets["2️⃣"])
  }

  @Test func undefinedNameSuggestsABoundOne() {
    assertDiagnostics(
      """
      src = mmap 1 page
      touch 1️⃣scr
      """, [Expected(.undefinedName, at: "1️⃣", "did you mean `src`?")])
  }

  @Test func wrongKinds() {
    assertDiagnostics(
      """
      r = mmap 1 page
      c = fork
      u = userfaultfd
      touch 1️⃣c
      on 2️⃣r touch r
      register 3️⃣r r missing
      remap r <- r via 4️⃣c
      assert frame r[0] in 5️⃣u == frame r[0]
      """,
      [
        Expected(.wrongKind, at: "1️⃣", "is a process"),
        Expected(.wrongKind, at: "2️⃣", "a process is needed"),
        Expected(.wrongKind, at: "3️⃣", "a userfaultfd is needed"),
        Expected(.wrongKind, at: "4️⃣", "a userfaultfd is needed"),
        Expected(.wrongKind, at: "5️⃣", "a process is needed"),
      ])
  }

  @Test func duplicateBindingsAndMain() {
    assertDiagnostics(
      """
      r = mmap 1 page
      1️⃣r = mmap 1 page
      2️⃣main = fork
      """,
      [
        Expected(.duplicateBinding, at: "1️⃣", "already bound"),
        Expected(.duplicateBinding, at: "2️⃣", "initial process"),
      ])
  }

  @Test func theReplMayRebind() {
    var checker = Checker(allowsRebinding: true)
    let first = checker.check(SourceFile(path: "<repl>", text: "r = mmap 1 page"))
    let second = checker.check(SourceFile(path: "<repl>", text: "r = mmap 2 pages\ntouch r"))
    #expect(first.diagnostics.isEmpty && second.diagnostics.isEmpty)
    let third = checker.check(SourceFile(path: "<repl>", text: "touch r[1]"))
    #expect(third.diagnostics.isEmpty)
    if let checked = third.checked, case .touch(let t, _) = checked.script.statements[0].kind,
      case .page(let base, _) = checked.script[t].kind, case .name(let n) = checked.script[base].kind
    {
      #expect(checked.bindings[checked.binding(for: n)].range == SourceRange(0, 1))
      #expect(checked.kind(of: n) == .region)
    } else {
      Issue.record("unexpected tree")
    }
  }

  @Test func unknownAdviceConstantAndFlag() {
    assertDiagnostics(
      """
      r = mmap 1 page
      madvise r 1️⃣DONTFROK
      mprotect r 2️⃣RAED
      assert errno == 3️⃣EBUSSY
      assert flags r has 4️⃣dcc
      """,
      [
        Expected(.unknownAdvice, at: "1️⃣", "did you mean `DONTFORK`?"),
        Expected(.unknownConstant, at: "2️⃣", "did you mean `READ`?"),
        Expected(.unknownConstant, at: "3️⃣", "did you mean `EBUSY`?"),
        Expected(.unknownVMFlag, at: "4️⃣", "did you mean `dc`?"),
      ])
  }

  @Test func typeMismatches() {
    assertDiagnostics(
      """
      r = mmap 1 page
      f = frame r[0]
      assert 1️⃣f == 2
      assert 2️⃣vmas
      munmap 3️⃣0x100000000000
      madvise r 4️⃣READ
      mprotect r 5️⃣DONTFORK
      let g = 6️⃣true + 1
      """,
      [
        Expected(.typeMismatch, at: "1️⃣", "cannot compare a frame with a number"),
        Expected(.typeMismatch, at: "2️⃣", "must be a condition"),
        Expected(.typeMismatch, at: "3️⃣", "no length"),
        Expected(.typeMismatch, at: "4️⃣", "must be an advice"),
        Expected(.typeMismatch, at: "5️⃣", "must be a protection"),
        Expected(.typeMismatch, at: "6️⃣", "must be an address"),
      ])
  }

  @Test func outcomesAStatementCannotHave() {
    assertDiagnostics(
      """
      r = mmap 1 page
      u = userfaultfd
      assert vmas == 1 1️⃣=> EINVAL
      munmap r 2️⃣=> SIGSEGV
      touch r 3️⃣=> EFAULT
      munmap r => EINVAL moved 4️⃣4K
      remap r <- r via u => EEXIST at 5️⃣r
      """,
      [
        Expected(.outcomeNotAllowed, at: "1️⃣", "only operations"),
        Expected(.outcomeNotAllowed, at: "2️⃣", "only memory accesses"),
        Expected(.outcomeNotAllowed, at: "3️⃣", "do not fail with an errno"),
        Expected(.outcomeNotAllowed, at: "4️⃣", "`moved` applies"),
        Expected(.outcomeNotAllowed, at: "5️⃣", "faulting address"),
      ])
  }

  @Test func optionsThatNeedOrExcludeOthers() {
    assertDiagnostics(
      """
      1️⃣a = mmap 1 page fixed
      b = mmap 1 page shared flags 2️⃣0x21
      3️⃣mremap b to 2 pages maymove fixed
      """,
      [
        Expected(.missingOption, at: "1️⃣", "add `at ADDRESS`"),
        Expected(.conflictingOptions, at: "2️⃣", "either the words"),
        Expected(.missingOption, at: "3️⃣", "add `at ADDRESS`"),
      ])
  }

  @Test func bytesAndMoveLengths() {
    assertDiagnostics(
      """
      r = mmap 2 pages
      u = userfaultfd
      touch r write 1️⃣256
      write r 'a' 2️⃣300
      remap 3️⃣r[0] + 0 <- r[1] + 0 via u
      """,
      [
        Expected(.valueOutOfRange, at: "1️⃣", "0…255"),
        Expected(.valueOutOfRange, at: "2️⃣"),
        Expected(.missingLength, at: "3️⃣", "give a range"),
      ])
  }

  @Test func loopsCannotBindAndTheirVariableIsScoped() {
    assertDiagnostics(
      """
      r = mmap 4 pages
      for i in 0..<4 {
        touch r[i]
        1️⃣x = fork
      }
      touch r[2️⃣i]
      """,
      [
        Expected(.bindingInLoop, at: "1️⃣"),
        Expected(.undefinedName, at: "2️⃣"),
      ])
  }

  @Test func aBrokenBindingDoesNotCascade() {
    // `r` fails to parse, but later uses of `r` are not reported again.
    assertDiagnostics(
      """
      r = mmap 4 pages 1️⃣shraed
      touch r[0]
      munmap r
      """, [Expected(.unknownOption, at: "1️⃣")])
  }
}
