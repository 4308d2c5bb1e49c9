import Testing

@testable import MopsSyntax

/// A deterministic generator (SplitMix64), so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Seconds per megabyte allowed here. Tests run a debug build, about ten times
/// slower than release, next to other tests; the release target of one second per
/// megabyte is measured with the release build (see the report in grammar.md).
let debugSecondsPerMB = 10.0

/// Parses and checks `bytes`; expects at least `minimumErrors` errors, every range
/// inside the file, a rendering that succeeds, and at most `secondsPerMB` per
/// megabyte (never less than a second, for small inputs).
@discardableResult
func survives(
  _ bytes: [UInt8], minimumErrors: Int = 1, secondsPerMB: Double = debugSecondsPerMB,
  sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> CheckResult {
  let file = SourceFile(path: "bad.mops", bytes: bytes)
  let clock = ContinuousClock()
  let start = clock.now
  let result = MopsCheck.check(file)
  let rendered = DiagnosticRenderer().render(result.diagnostics, in: file, suppressed: result.suppressedCount)
  let elapsed = clock.now - start
  let budget = max(1, Double(bytes.count) / 1_000_000 * secondsPerMB)
  #expect(
    elapsed < .milliseconds(Int(budget * 1000)), "took \(elapsed) for \(bytes.count) bytes",
    sourceLocation: sourceLocation)
  #expect(result.diagnostics.count + result.suppressedCount >= minimumErrors, sourceLocation: sourceLocation)
  #expect(result.diagnostics.count <= ParserLimits.diagnosticLimit, sourceLocation: sourceLocation)
  #expect(!rendered.isEmpty || minimumErrors == 0, sourceLocation: sourceLocation)
  assertRangesInside(result, file, sourceLocation: sourceLocation)
  return result
}

func assertRangesInside(
  _ result: CheckResult, _ file: SourceFile, sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
  for d in result.diagnostics {
    let ranges = [d.range] + d.notes.compactMap(\.range)
    for r in ranges {
      #expect(
        r.start >= 0 && r.start <= r.end && r.end <= file.bytes.count,
        "\(d.id) range \(r) outside 0..<\(file.bytes.count)",
        sourceLocation: sourceLocation)
    }
  }
}

@Suite struct BadInput {
  @Test func emptyAndBlankFilesAreFine() {
    for text in ["", "\n", "   \n\t\n", "# only a comment", "#!/usr/bin/env mops run", ";;;\n;"] {
      survives(Array(text.utf8), minimumErrors: 0)
      #expect(MopsCheck.check(SourceFile(path: "e", text: text)).checked != nil)
    }
  }

  @Test func binaryGarbage() {
    var rng = SplitMix64(seed: 42)
    let bytes = (0..<1_000_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
    survives(bytes)
  }

  @Test func garbageMadeOfTokens() {
    var rng = SplitMix64(seed: 7)
    let pieces = [
      "{", "}", "(", ")", "[", "]", "=>", "<-", "...", "..<", "not", "and", "on", "x", "=", "mmap", "\n", "'", "\"",
      "#", "1", "K", "|", ";",
    ]
    var text = ""
    while text.utf8.count < 500_000 {
      text += pieces.randomElement(using: &rng)! + (Bool.random(using: &rng) ? " " : "")
    }
    survives(Array(text.utf8))
  }

  @Test func invalidUTF8InEveryPosition() {
    let bad: [[UInt8]] = [[0xFF], [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0x80, 0x80], [0xED, 0xA0, 0x80], [0]]
    for b in bad {
      survives(Array("r = mmap 1 page\n".utf8) + b + Array(" = 3\n".utf8))
      survives(Array("print \"".utf8) + b + Array("\"\n# ".utf8) + b + Array("\nlet x = 1 ".utf8) + b, minimumErrors: 1)
      survives(Array("r = mmap 1 page".utf8) + b + Array("pages\n".utf8))
    }
  }

  @Test func aHugeLine() {
    // 2 MB here (debug build); `mops-syntax-bench --bad-input` times 100 MB lines
    // with the release build.
    let word = [UInt8](repeating: UInt8(ascii: "a"), count: 2_000_000)
    survives(Array("let x = ".utf8) + word)
    let sum = Array("let y = ".utf8) + Array(String(repeating: "1+", count: 500_000).utf8) + [UInt8(ascii: "1")]
    #expect(survives(sum).diagnostics.map(\.id) == [.nestingTooDeep])
    let garbage = [UInt8](repeating: UInt8(ascii: "@"), count: 2_000_000)
    survives(garbage)
  }

  @Test func tenThousandNestedBlocks() {
    let open = String(repeating: "on c {\n", count: 10_000)
    let close = String(repeating: "}\n", count: 10_000)
    let result = survives(Array(("c = fork\n" + open + "touch @\n" + close).utf8))
    #expect(result.diagnostics.contains { $0.id == .nestingTooDeep })
    #expect(!result.diagnostics.contains { $0.id == .unbalancedBrace })
    let oneLine = "c = fork\n" + String(repeating: "on c { ", count: 10_000) + String(repeating: "} ", count: 10_000)
    survives(Array(oneLine.utf8))
    let oneStatementForm = "c = fork\n" + String(repeating: "on c ", count: 10_000) + "exit"
    survives(Array(oneStatementForm.utf8))
    // Too deep is an error of its own, not a request for more input.
    #expect(!survives(Array(("c = fork\n" + open).utf8)).isIncomplete)
    #expect(survives(Array(("c = fork\n" + String(repeating: "on c {\n", count: 10)).utf8)).isIncomplete)
  }

  @Test func deeplyNestedExpressions() {
    for (open, close) in [("(", ")"), ("not ", ""), ("frame ", ""), ("r[", "]"), ("- ", "")] {
      let expr = String(repeating: open, count: 10_000) + "1" + String(repeating: close, count: 10_000)
      let result = survives(Array(("r = mmap 1 page\nlet x = " + expr + "\n").utf8))
      #expect(result.diagnostics.contains { $0.id == .nestingTooDeep || $0.id == .expectedExpression })
    }
  }

  @Test func numbersPastSixtyFourBits() {
    for n in [
      "18446744073709551616", "99999999999999999999999999999", "0x1_0000_0000_0000_0000", "16777216T", "17179869184G",
    ] {
      let result = survives(Array("let x = \(n)\n".utf8))
      #expect(result.diagnostics.map(\.id) == [.numberTooLarge], "\(n)")
    }
    #expect(
      MopsCheck.check(SourceFile(path: "n", text: "let x = 18446744073709551615\nlet y = 16777215T")).checked != nil)
  }

  @Test func manyStatementsOnOneLine() {
    survives(Array(("r = mmap 1 page\n" + String(repeating: "touch r; ", count: 20_000)).utf8), minimumErrors: 0)
  }
}

@Suite struct IncompleteInput {
  func incomplete(_ text: String) -> Bool { MopsParser.parse(SourceFile(path: "<repl>", text: text)).isIncomplete }

  @Test func openBlocksOperatorsAndBracketsAskForMore() {
    #expect(incomplete("c = fork\non c {"))
    #expect(incomplete("c = fork\non c {\n  touch 0x100000000000 len 4K"))
    #expect(incomplete("assert vmas == 1 and"))
    #expect(incomplete("let x = (1 +"))
    #expect(incomplete("let x = (1"))
    #expect(incomplete("r = mmap 1 page\ntouch r[0"))
    #expect(incomplete("expect maps {\n  100000000000-100000001000 rw-p"))
    #expect(incomplete("r = mmap 1 page\nremap r <-"))
  }

  @Test func completeOrBrokenInputDoesNot() {
    #expect(!incomplete("r = mmap 1 page"))
    #expect(!incomplete("mmap"))
    #expect(!incomplete("c = fork\non c { touch @"))
    #expect(!incomplete("c = fork\non c { exit }"))
    #expect(!incomplete("print \"open"))
  }

  @Test func theContinuationSignalIsItsOwnDiagnostic() {
    let parsed = MopsParser.parse(SourceFile(path: "<repl>", text: "assert vmas == 1 and"))
    #expect(parsed.diagnostics.diagnostics.map(\.id) == [.unexpectedEndOfInput])
    let ids = parsed.diagnostics.diagnostics.map(\.id)
    #expect(ids == [.unexpectedEndOfInput])
  }
}
