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
import MopsSyntax

func threadCPUSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let lines = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 100_000
let source = SyntaxThroughput.generateScript(lines: lines)
let (wall, cpu, diagnostics) = SyntaxThroughput.measure(source, cpuTime: threadCPUSeconds)
if !diagnostics.isEmpty {
  let file = SourceFile(path: "generated.mops", text: source)
  print(DiagnosticRenderer().render(Array(diagnostics.prefix(5)), in: file))
}
print("parse+check: \(lines) lines, \(Int(cpu)) lines/s by CPU time, \(Int(wall)) lines/s by wall time (best of 5)")
