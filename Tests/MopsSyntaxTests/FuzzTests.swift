import Testing

@testable import MopsSyntax

/// Valid scripts that together use every statement, option, outcome and expression
/// form: the seeds the fuzzer mutates.
let seedCorpus: [String] = [
  """
  #!/usr/bin/env mops run
  # mops: skip linux: the seed scenario uses the model's cost counters
  src = mmap 4 pages                 # anon private rw, top-down in the arena
  dst = mmap 4 pages
  touch src[0...3] write 'A'
  f = frame src[0]
  u = userfaultfd
  api u features move
  register u dst missing
  remap dst <- src via u
  assert frame dst[0] == f, "zero copy"
  assert vmas == 2 and moved == 4 pages
  child = fork
  remap dst[0] <- src[0] via u  => EBUSY
  on child { touch dst[0] write 'B' }
  show maps
  """,
  """
  # mops: needs root, userfaultfd: frames come from /proc/kpageflags
  r = mmap 16K prot READ|WRITE at 0x100000200000 fixed noreplace
  s = mmap 2M shared populate
  mprotect r[1] READ
  mprotect r[1] PROT_READ|PROT_WRITE
  madvise r[0..<2] DONTFORK
  madvise r MADV_WIPEONFORK
  madvise r 5 => EINVAL
  munmap r[3]
  munmap 0x100000201000 len 4K => ok
  big = mremap s to 4M maymove
  m2 = mremap r[0] maymove fixed dontunmap at 0x100000400000
  mremap big flags 8 => EINVAL
  assert flags r has dc wf and not (flags r has lo)
  assert prot r[1] == READ|WRITE and mapped r[0]
  assert (vma_end r) - (vma_start r) == size r
  """,
  """
  a = mmap 2 pages
  c = fork
  on c touch a[0] => SIGSEGV SEGV_MAPERR at a[0]
  on c {
    touch a[1] write
    write a[1] + 16 "hi\\n" 0x41 'x'
    read a[1] + 16 len 3
    gc = fork
    on gc exit
  }
  exit c
  pin a[0...1]
  unpin a[0...1]
  for i in 0..<2 { touch a[i] write i }
  for j in 0...1 { print mapcount a[j], exclusive a[j] in main, anon_exclusive a[j] }
  print present a[0] or zeropage a[0] or none a[0], writable a[0], contents a[0] == 0, byte a + 5
  print rss, anon_pages, result, errno == EINVAL, cost vma_splits, vmas in main
  show pages a[0...1]
  show tree
  show stats
  expect maps {
    100000000000-100000002000 rw-p 00000000  rd wr mr mw me ac
  }
  """,
  """
  u = userfaultfd nonblock cloexec
  v = userfaultfd flags 1
  api u version 0xAA features event_fork event_remap
  api v features 0 => EINVAL
  d = mmap 8 pages
  s = mmap 8 pages
  register u d missing wp
  register v d mode 4 => EBUSY
  copy d[1] <- s[1] via u dontwake wp
  zeropage d[2] via u dontwake => EEXIST
  remap d <- s via u allow_src_holes dontwake => EAGAIN moved 8K
  remap d[0] <- s[0] + 0 via u mode 3
  remap_anon_pages d <- s allow_src_holes => ENOENT
  remap_anon_pages d[3] <- s[3] flags 0
  unregister u d[0...3]
  touch d[5] => userfault at d[5]
  mprotect d NONE => not modelled
  close u
  let t = d + 4K len 8K
  munmap t
  let x = 1 + 2 * 3 - 16K / 4 + 1G | 0x10
  assert x >= 0 and x != 1 or x < 2 or x <= 3 or x > 4
  """,
]

/// Byte-level mutations of a script.
struct Mutator {
  var rng: SplitMix64
  static let fragments: [String] = [
    "{", "}", "(", ")", "[", "]", "=>", "<-", "...", "..<", "not", "and", "on x", "=", "mmap", "\n", "'",
    "\"", "#", "99999999999999999999", "K", "|", ";", "len", "via", "@", "\u{0}", "\u{FFFD}", "é", "\r",
  ]

  mutating func int(_ range: Range<Int>) -> Int {
    range.isEmpty ? range.lowerBound : Int.random(in: range, using: &rng)
  }

  mutating func mutate(_ input: [UInt8]) -> [UInt8] {
    var bytes = input
    for _ in 0..<int(1..<4) {
      switch int(0..<7) {
      case 0:  // flip a byte
        if !bytes.isEmpty { bytes[int(0..<bytes.count)] = UInt8(int(0..<256)) }
      case 1:  // truncate
        bytes.removeLast(int(0..<(bytes.count + 1)))
      case 2:  // duplicate a line
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if !lines.isEmpty {
          let i = int(0..<lines.count)
          lines.insert(lines[i], at: int(0..<(lines.count + 1)))
        }
        bytes = Array(lines.joined(separator: [0x0A]))
      case 3:  // delete a line
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if !lines.isEmpty { lines.remove(at: int(0..<lines.count)) }
        bytes = Array(lines.joined(separator: [0x0A]))
      case 4:  // delete a span
        if !bytes.isEmpty {
          let start = int(0..<bytes.count)
          bytes.removeSubrange(start..<min(bytes.count, start + int(1..<12)))
        }
      case 5:  // insert a fragment
        let f = Array(Mutator.fragments[int(0..<Mutator.fragments.count)].utf8)
        bytes.insert(contentsOf: f, at: int(0..<(bytes.count + 1)))
      default:  // swap two lines
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.count > 1 { lines.swapAt(int(0..<lines.count), int(0..<lines.count)) }
        bytes = Array(lines.joined(separator: [0x0A]))
      }
    }
    return bytes
  }
}

/// What must hold for any input: every diagnostic range inside the file, a checked
/// script only without errors, and in a checked script every name resolved.
func checkInvariants(_ bytes: [UInt8], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
  let file = SourceFile(path: "fuzz.mops", bytes: bytes)
  let result = MopsCheck.check(file)
  assertRangesInside(result, file, sourceLocation: sourceLocation)
  _ = DiagnosticRenderer().render(result.diagnostics, in: file, suppressed: result.suppressedCount)
  if let checked = result.checked {
    #expect(!result.hasErrors, sourceLocation: sourceLocation)
    #expect(checked.resolutions.allSatisfy { $0 >= 0 && $0 < checked.bindings.count }, sourceLocation: sourceLocation)
    for e in checked.script.exprs {
      #expect(e.range.start >= 0 && e.range.end <= bytes.count, sourceLocation: sourceLocation)
    }
  } else {
    #expect(result.hasErrors, sourceLocation: sourceLocation)
  }
}

@Suite struct Fuzz {
  @Test func theSeedsAreValid() {
    for seed in seedCorpus {
      let result = MopsCheck.check(SourceFile(path: "seed.mops", text: seed))
      let rendered = DiagnosticRenderer().render(result.diagnostics, in: SourceFile(path: "seed.mops", text: seed))
      #expect(result.diagnostics.isEmpty, "\(rendered)")
      checkInvariants(Array(seed.utf8))
    }
  }

  @Test(arguments: 0..<4)
  func mutatedSeedsNeverCrash(seedIndex: Int) {
    var mutator = Mutator(rng: SplitMix64(seed: UInt64(seedIndex) &* 7919 &+ 1))
    let seed = Array(seedCorpus[seedIndex].utf8)
    var input = seed
    for i in 0..<1000 {
      // Mostly fresh mutations of the seed, sometimes a mutation of a mutation.
      input = mutator.mutate(i % 4 == 3 ? input : seed)
      checkInvariants(input)
    }
  }

  @Test func everyPrefixOfEverySeed() {
    for seed in seedCorpus {
      let bytes = Array(seed.utf8)
      for end in stride(from: 0, through: bytes.count, by: 3) { checkInvariants(Array(bytes[..<end])) }
    }
  }

  @Test func theGeneratedBenchmarkScriptIsValid() {
    let source = SyntaxThroughput.generateScript(lines: 2_000)
    let file = SourceFile(path: "generated.mops", text: source)
    let result = MopsCheck.check(file)
    #expect(file.lineCount == 2_001)
    #expect(result.diagnostics.isEmpty, "\(DiagnosticRenderer().render(Array(result.diagnostics.prefix(3)), in: file))")
  }
}
