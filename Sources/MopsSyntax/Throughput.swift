/// Parse+check throughput, for the benchmark (`mops-syntax-bench`) and for tests.
public enum SyntaxThroughput {
  /// A valid script of exactly `lines` lines that exercises most statement forms:
  /// blocks of 20 lines, each with its own names so nothing is bound twice.
  public static func generateScript(lines: Int) -> String {
    var out = "u = userfaultfd\napi u features move\nchild = fork\n"
    var count = 3
    var block = 0
    while count < lines {
      let r = "r\(block)"
      let d = "d\(block)"
      let template = [
        "\(r) = mmap 4 pages",
        "\(d) = mmap 16K prot READ|WRITE",
        "touch \(r)[0...3] write 'A'        # fault every page in",
        "let f\(block) = frame \(r)[0]",
        "madvise \(r)[1] DONTFORK",
        "mprotect \(r)[2..<4] READ",
        "register u \(d) missing",
        "remap \(d) <- \(r) via u allow_src_holes => EINVAL",
        "remap \(d)[0] <- \(r)[0] via u => EAGAIN moved 4K",
        "assert frame \(r)[0] == f\(block) and mapcount \(r)[0] == 1, \"still the same page\"",
        "assert flags \(r)[1] has dc and not exclusive \(d)[0]",
        "on child touch \(r)[3] write 0x42 => SIGSEGV SEGV_ACCERR",
        "on child { touch \(d)[0] read; write \(d)[0] + 16 \"hi\" }",
        "mremap \(d) to 8 pages maymove",
        "write \(r) + 8K 'x' 'y' 0",
        "copy \(d)[1] <- \(r)[1] via u dontwake => EEXIST",
        "zeropage \(d)[2] via u",
        "print vmas, rss, moved",
        "",
        "munmap \(r)[0] len 2 pages",
      ]
      for line in template where count < lines {
        out += line
        out += "\n"
        count += 1
      }
      block += 1
    }
    return out
  }

  /// Hostile inputs of about `megabytes` MB each, by name: the cases of issue 3's "Bad
  /// input" (binary garbage, invalid UTF-8, one huge line, deep nesting, numbers past
  /// 64 bits).
  public static func badInputs(megabytes: Int) -> [(name: String, bytes: [UInt8])] {
    let size = megabytes * 1_000_000
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var garbage = [UInt8](repeating: 0, count: size)
    for i in 0..<size {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      garbage[i] = UInt8(truncatingIfNeeded: state >> 56)
    }
    let invalidUTF8 = [UInt8]((0..<size).map { $0 % 3 == 0 ? 0xC3 : $0 % 3 == 1 ? 0xFF : 0x41 })
    let word = Array("let x = ".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: size)
    let sum = Array("let y = ".utf8) + Array(String(repeating: "1+", count: size / 2).utf8) + [0x31]
    let number = Array("let n = ".utf8) + [UInt8](repeating: UInt8(ascii: "9"), count: size)
    let blocks = Array(
      ("c = fork\n" + String(repeating: "on c {\n", count: 10_000) + String(repeating: "}\n", count: 10_000)).utf8)
    let parens = Array(
      ("let p = " + String(repeating: "(", count: size / 2) + String(repeating: ")", count: size / 2)).utf8)
    return [
      ("binary garbage", garbage), ("invalid UTF-8", invalidUTF8), ("one-line identifier", word),
      ("one-line sum", sum), ("one-line number", number), ("10,000 nested blocks", blocks),
      ("nested parentheses", parens),
    ]
  }

  /// Parses and checks `source` `repetitions` times and returns the fastest run's
  /// lines per second by each clock, and the diagnostics of the last run.
  ///
  /// `cpuTime` reads the calling thread's CPU time (the benchmark passes
  /// `CLOCK_THREAD_CPUTIME_ID`): unlike wall time it does not count the time other
  /// processes hold the CPU, so it stays meaningful on a shared machine.
  public static func measure(
    _ source: String, repetitions: Int = 5, cpuTime: () -> Double
  ) -> (wallLinesPerSecond: Double, cpuLinesPerSecond: Double, diagnostics: [Diagnostic]) {
    let file = SourceFile(path: "generated.mops", text: source)
    let clock = ContinuousClock()
    var bestWall = Double.infinity
    var bestCPU = Double.infinity
    var diagnostics: [Diagnostic] = []
    for _ in 0..<Swift.max(1, repetitions) {
      let cpuStart = cpuTime()
      let start = clock.now
      let result = MopsCheck.check(file)
      let elapsed = clock.now - start
      bestCPU = Swift.min(bestCPU, cpuTime() - cpuStart)
      bestWall = Swift.min(bestWall, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
      diagnostics = result.diagnostics
    }
    let lines = Double(file.lineCount)
    return (lines / bestWall, lines / bestCPU, diagnostics)
  }
}
