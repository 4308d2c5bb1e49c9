import MopsABI

/// The kernel names the language accepts, in one place: grammar.md lists the same
/// sets, and the tests check the two agree.
public enum KernelNames {
  /// Every errno name accepted after `=>` and in `errno == NAME`.
  public static let errnoNames: [String] = Errno.all.map(\.name)

  /// `SIGSEGV`, `SIGBUS` and their `si_code` names.
  public static let signals: [(name: String, signo: Int32)] = [("SIGSEGV", Signal.SIGSEGV), ("SIGBUS", Signal.SIGBUS)]
  public static let signalCodes: [(name: String, signo: Int32, code: Int32)] = [
    ("SEGV_MAPERR", Signal.SIGSEGV, Signal.SEGV_MAPERR),
    ("SEGV_ACCERR", Signal.SIGSEGV, Signal.SEGV_ACCERR),
    ("BUS_ADRERR", Signal.SIGBUS, Signal.BUS_ADRERR),
  ]

  /// Protection constants, with or without the `PROT_` prefix.
  public static let protNames: [(String, Prot)] = [
    ("NONE", .none), ("READ", .read), ("WRITE", .write), ("EXEC", .exec), ("SEM", .sem),
    ("GROWSDOWN", .growsdown), ("GROWSUP", .growsup),
  ]

  /// smaps `VmFlags` mnemonics accepted after `has`.
  public static let vmFlagMnemonics: [String] = VMFlags.mnemonics.map(\.1)

  /// The model's cost counters (MopsEngine's `CostCounters.fields`), for `cost NAME`.
  public static let costCounters: [String] = [
    "vmas_allocated", "vma_splits", "vma_merges", "vmas_freed", "ptes_changed", "pages_allocated",
    "pages_zeroed", "pages_copied", "pages_freed", "tlb_flush_ranges", "faults",
  ]

  /// Resolves an uppercase word: errno, then advice (`MADV_` optional), then
  /// protection (`PROT_` optional).
  public static func constant(_ word: String) -> KernelConstant? {
    constantTable.table.find(word).map { constantTable.values[$0] }
  }

  /// Resolves the uppercase word at `range` of `buf` (hash from the lexer); nil when
  /// it is not a constant.
  static func constant(_ buf: UnsafeBufferPointer<UInt8>, _ range: SourceRange, hash: UInt32) -> KernelConstant? {
    constantTable.table.find(buf, range.start, range.end, hash: hash).map { constantTable.values[$0] }
  }

  /// Every constant spelling, built once: errno names, advice names with and without
  /// `MADV_`, protection names with and without `PROT_`.
  private static let constantTable: (table: SpellingTable, values: [KernelConstant]) = {
    var table = SpellingTable(capacity: 128)
    var values: [KernelConstant] = []
    func add(_ word: String, _ value: KernelConstant) {
      table.add(word)
      values.append(value)
    }
    for e in Errno.all { add(e.name, .errno(e)) }
    for (name, advice) in Advice.named {
      add(name, .advice(advice))
      add("MADV_" + name, .advice(advice))
    }
    for (name, prot) in protNames {
      add(name, .prot(prot))
      add("PROT_" + name, .prot(prot))
    }
    return (table, values)
  }()

  /// All constant spellings of one family, for suggestions.
  public static var adviceNames: [String] { Advice.named.map(\.0) }
  public static var allConstantNames: [String] { errnoNames + adviceNames + protNames.map(\.0) }

  /// The closest candidate to `word` (edit distance, case-insensitive), if it is
  /// close enough to be a plausible typo.
  public static func suggestion(for word: String, among candidates: [String]) -> String? {
    let w = Array(word.lowercased().utf8)
    guard !w.isEmpty, w.count <= 64 else { return nil }
    var best: (String, Int)?
    for c in candidates {
      let d = editDistance(w, Array(c.lowercased().utf8))
      if d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    guard let (name, distance) = best else { return nil }
    let allowed = Swift.max(1, Swift.min(3, (w.count + 2) / 4))
    return distance <= allowed ? name : nil
  }

  /// `; did you mean `X`?` or an empty string.
  static func didYouMean(_ word: String, among candidates: [String]) -> String {
    suggestion(for: word, among: candidates).map { "; did you mean `\($0)`?" } ?? ""
  }

  /// Levenshtein distance with adjacent transpositions counted as one edit.
  static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prevPrev = [Int](repeating: 0, count: b.count + 1)
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      cur[0] = i
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        var v = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
        if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { v = Swift.min(v, prevPrev[j - 2] + 1) }
        cur[j] = v
      }
      (prevPrev, prev, cur) = (prev, cur, prevPrev)
    }
    return prev[b.count]
  }
}
