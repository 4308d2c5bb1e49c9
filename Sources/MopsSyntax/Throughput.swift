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
