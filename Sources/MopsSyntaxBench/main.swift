import Foundation
import MopsSyntax

// Parse+check throughput of the .mops front end on a generated script.
//
//   swift run -c release mops-syntax-bench [LINES]     (default 100000)
//
// Prints lines per second of the fastest of 5 runs, by wall time and by the thread's
// CPU time (the latter ignores other processes competing for the CPU).
#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

func threadCPUSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

if CommandLine.arguments.dropFirst().first == "--bad-input" {
  // Each hostile input of `mops-syntax-bench --bad-input [MB]` (default 100 MB) must
  // end in diagnostics within a second per megabyte.
  let megabytes = CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 100
  for (name, bytes) in SyntaxThroughput.badInputs(megabytes: megabytes) {
    let file = SourceFile(path: name, bytes: bytes)
    let clock = ContinuousClock()
    let start = clock.now
    let cpuStart = threadCPUSeconds()
    let result = MopsCheck.check(file)
    let text = DiagnosticRenderer().render(result.diagnostics, in: file, suppressed: result.suppressedCount)
    let cpu = threadCPUSeconds() - cpuStart
    let wall = clock.now - start
    let mb = Double(bytes.count) / 1e6
    let count = result.diagnostics.count + result.suppressedCount
    print(
      "\(name): \(String(format: "%.1f", mb)) MB, \(count) diagnostics (\(text.utf8.count) bytes rendered), "
        + "\(String(format: "%.3f", cpu / mb)) s/MB CPU, wall \(wall)")
  }
  exit(0)
}

let lines = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 100_000
let source = SyntaxThroughput.generateScript(lines: lines)
let (wall, cpu, diagnostics) = SyntaxThroughput.measure(source, cpuTime: threadCPUSeconds)
if !diagnostics.isEmpty {
  let file = SourceFile(path: "generated.mops", text: source)
  print(DiagnosticRenderer().render(Array(diagnostics.prefix(5)), in: file))
}
print("parse+check: \(lines) lines, \(Int(cpu)) lines/s by CPU time, \(Int(wall)) lines/s by wall time (best of 5)")
