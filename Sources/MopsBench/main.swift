// mops-bench: engine throughput per operation class, measured on the model and on the
// live kernel with the same work in one run, plus host memory per simulated page.
//
//     swift run -c release mops-bench [--no-live] [--runs N] [--only NAME] [--script-only | --no-script]
//
// Each workload runs N times (default 5), sim and live alternately, from a fresh state
// each time; the table gives the median of each side and the ratio of the medians.
import Glibc
import MopsABI

let args = Array(CommandLine.arguments.dropFirst())
let runLive = !args.contains("--no-live")
func optionValue(_ name: String) -> String? {
  guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
  return args[i + 1]
}
let usage = "usage: mops-bench [--no-live] [--runs N] [--only NAME] [--script-only | --no-script]"
if args.contains("--help") {
  print(usage)
  print("  Measures the sim engine and, unless --no-live, the live kernel doing the same work.")
  print("  --runs N       runs of each workload (default 5); the table shows medians.")
  print("  --only NAME    only the workloads whose name contains NAME (e.g. fork).")
  print("  --no-script    skips the script-interpreter measurement (e.g. to profile the engine).")
  exit(0)
}
let runs = optionValue("--runs").map { Int($0) ?? 0 } ?? 5
let only = optionValue("--only")
if runs < 1 || (args.contains("--runs") && optionValue("--runs") == nil) || (args.contains("--only") && only == nil) {
  print(usage)
  exit(64)
}
Live.pinToCPU0()
if args.contains("--script-only") {
  ScriptBench.run(lines: 100_000)
  exit(0)
}

var bytesPerPage = 0.0
let splitVMAs = defaultMaxMapCount
let liveSplitVMAs = defaultMaxMapCount - Live.mapCount() - 16

let workloads: [Workload] = [
  Workload(
    name: "write fault", count: 1_000_000, referenceSecondsPerOp: 2.4e-6,
    sim: {
      let r = try Sim.writeFaults(1_000_000)
      if bytesPerPage == 0 { bytesPerPage = r.bytesPerPage }  // the first run: a fresh heap
      return r.seconds
    }, live: { Live.writeFaults(1_000_000) }),
  Workload(
    name: "fork, 1 GiB touched", count: 1, referenceSecondsPerOp: 24e-3,
    sim: { try Sim.fork(pages: 262_144) }, live: { Live.fork(pages: 262_144) }),
  Workload(
    name: "fork, 1 GiB scattered", count: 1, referenceSecondsPerOp: .nan,
    sim: { try Sim.fork(pages: 262_144, scattered: true) }, live: { Live.fork(pages: 262_144, scattered: true) }),
  Workload(
    name: "UFFDIO_MOVE, 1 page", count: 100_000, referenceSecondsPerOp: 1.7e-6,
    sim: { try Sim.uffdMoves(100_000) }, live: { Live.uffdMoves(100_000) }),
  Workload(
    name: "mremap move, 1 page", count: 10_000, referenceSecondsPerOp: 7.4e-6,
    sim: { try Sim.mremapMoves(10_000) }, live: { Live.mremapMoves(10_000) }),
  Workload(
    name: "VMA split (mprotect)", count: splitVMAs - 1, referenceSecondsPerOp: .nan,
    sim: { try Sim.splits(vmas: splitVMAs) },
    live: { Live.splits(vmas: liveSplitVMAs).map { $0 * Double(splitVMAs - 1) / Double(liveSplitVMAs - 1) } }),
]

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
func fmt(_ x: Double, _ digits: Int = 1) -> String {
  guard x.isFinite else { return "-" }
  var s = String(Int((x * pow10(digits)).rounded()))
  if digits > 0 {
    while s.count <= digits { s = "0" + s }
    s.insert(".", at: s.index(s.endIndex, offsetBy: -digits))
  }
  return s
}
func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { r, _ in r * 10 } }
func perOp(_ seconds: Double) -> String {
  seconds >= 1e-3 ? fmt(seconds * 1e3, 2) + " ms" : seconds >= 1e-6 ? fmt(seconds * 1e6, 2) + " µs" : fmt(seconds * 1e9, 1) + " ns"
}

print(
  pad("operation", 22) + lpad("count", 10) + lpad("sim/op", 12) + lpad("sim ops/s", 14)
    + lpad("live/op", 12) + lpad("live÷sim", 10) + lpad("ref/op", 11))
func median(_ xs: [Double]) -> Double {
  let s = xs.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

var failed = false
for w in workloads where only.map({ w.name.contains($0) }) ?? true {
  do {
    var simRuns: [Double] = []
    var liveRuns: [Double] = []
    var liveFailed = false
    for _ in 0..<runs {
      simRuns.append(try w.sim())
      if runLive, !liveFailed {
        if let t = w.live() { liveRuns.append(t) } else { liveFailed = true }
      }
    }
    let simPerOp = median(simRuns) / Double(w.count)
    let livePerOp = liveFailed || liveRuns.isEmpty ? nil : median(liveRuns) / Double(w.count)
    let ratio = livePerOp.map { $0 / simPerOp }
    print(
      pad(w.name, 22) + lpad(String(w.count), 10) + lpad(perOp(simPerOp), 12)
        + lpad(fmt(1 / simPerOp, 0), 14) + lpad(livePerOp.map(perOp) ?? "-", 12)
        + lpad(ratio.map { fmt($0, 1) + "x" } ?? "-", 10)
        + lpad(w.referenceSecondsPerOp.isNaN ? "-" : perOp(w.referenceSecondsPerOp), 11))
  } catch {
    failed = true
    print(pad(w.name, 22) + "  FAILED: \(error)")
  }
}
if bytesPerPage > 0 { print("host bytes per resident simulated page: \(fmt(bytesPerPage, 1))") }
print("(median of \(runs) run\(runs == 1 ? "" : "s") per workload; live÷sim is the ratio of the medians)")
if !args.contains("--no-script") && only == nil { ScriptBench.run(lines: 100_000) }
if failed { exit(1) }
