// Statement latency at the REPL prompt: the time from a line's Enter to the next
// prompt (check, run, print), on a session holding 10,000 touched pages in two
// processes. Run with `swift run -c release mops-repl-bench [PAGES] [ROUNDS]`.
//
// Both wall-clock and thread CPU time are reported: on a loaded machine the wall-clock
// tail is the scheduler's (a time slice is milliseconds), the CPU time is mops's.
import Foundation
import MopsBackend
import MopsREPL
import SimBackend

/// Nanoseconds of wall-clock and of this thread's CPU time.
func now() -> (wall: UInt64, cpu: UInt64) {
  var t = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
  return (DispatchTime.now().uptimeNanoseconds, UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec))
}

/// Feeds a script to the loop and times each line: the gap between handing a line
/// over and being asked for the next is that line's latency.
final class TimedReader: LineReader {
  let lines: [String]
  private var next = 0
  private var handedOver = (wall: UInt64(0), cpu: UInt64(0))
  /// Latency of each line, in nanoseconds, by line index.
  private(set) var latencies: [(line: Int, wall: UInt64, cpu: UInt64)] = []

  init(_ lines: [String]) { self.lines = lines }

  var isInteractive: Bool { true }

  func readLine(prompt: String) -> LineInput {
    let t = now()
    if next > 0 { latencies.append((next - 1, t.wall - handedOver.wall, t.cpu - handedOver.cpu)) }
    guard next < lines.count else { return .endOfInput }
    next += 1
    handedOver = now()
    return .line(lines[next - 1])
  }

  func updateBoundNames(_ names: [String]) {}
}

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let pages = arguments.first ?? 10_000
let rounds = arguments.dropFirst().first ?? 200
let setup = ["r = mmap \(pages) pages", "touch r write 'A'", "child = fork", "u = userfaultfd"]
let statements = [
  "touch r[5] write 'B'",
  "assert present r[\(pages - 1)] and mapcount r[0] == 2",
  "print mapcount r[0], frame r[1], contents r[2]",
  "show pages r[0...7]",
  "x = mmap 4 pages",
  "munmap x",
  "show maps",
  "on child { touch r[7] write 'C' }",
]
var script = setup
for _ in 0..<rounds { script += statements }

let reader = TimedReader(script)
let sink = FileHandle(forWritingAtPath: "/dev/null")!
let configuration = REPLConfiguration(
  backendName: "sim", makeBackend: { _ in SimBackend() }, colorOutput: false, colorErrors: false)
let repl = try REPL(reader: reader, configuration: configuration, out: { sink.write(Data($0.utf8)) }) { message in
  FileHandle.standardError.write(Data(message.utf8))
}
_ = repl.run()

func milliseconds(_ ns: UInt64) -> String { String(format: "%.3f", Double(ns) / 1e6) }

/// "median M ms, p99 P ms" of `samples`.
func summary(_ samples: [UInt64]) -> String {
  let sorted = samples.sorted()
  return "median \(milliseconds(sorted[sorted.count / 2])) ms, p99 \(milliseconds(sorted[sorted.count * 99 / 100])) ms"
}

print("statement latency at the prompt (check + run + print), \(pages) touched pages in 2 processes, \(rounds) rounds")
print("  statement".padding(toLength: 58, withPad: " ", startingAt: 0) + "wall clock                     thread CPU time")
var timed: [(line: Int, wall: UInt64, cpu: UInt64)] = []
for (i, statement) in statements.enumerated() {
  let samples = reader.latencies.filter { $0.line >= setup.count && ($0.line - setup.count) % statements.count == i }
  timed += samples
  print("  \(statement.padding(toLength: 56, withPad: " ", startingAt: 0))\(summary(samples.map(\.wall)))   \(summary(samples.map(\.cpu)))")
}
print("  all statements".padding(toLength: 58, withPad: " ", startingAt: 0) + "\(summary(timed.map(\.wall)))   \(summary(timed.map(\.cpu)))")
let setupTouch = reader.latencies.first { $0.line == 1 }!
print("  (setup `touch r write 'A'` of all \(pages) pages: \(milliseconds(setupTouch.wall)) ms)")
