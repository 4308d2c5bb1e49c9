// mops-bench: engine throughput per operation class, measured on the model and on the
// live kernel with the same work in one run, plus host memory per simulated page.
//
//     swift run -c release mops-bench [--no-live] [--script-only | --no-script]
import Glibc
import MopsABI

let args = CommandLine.arguments.dropFirst()
let runLive = !args.contains("--no-live")
if args.contains("--help") {
  print("usage: mops-bench [--no-live] [--script-only | --no-script]")
  print("  Measures the sim engine and, unless --no-live, the live kernel doing the same work.")
  print("  --no-script skips the script-interpreter measurement (e.g. to profile the engine).")
  exit(0)
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
      bytesPerPage = r.bytesPerPage
      return r.seconds
    }, live: { Live.writeFaults(1_000_000) }),
  Workload(
    name: "fork, 1 GiB touched", count: 1, referenceSecondsPerOp: 24e-3,
    sim: { try Sim.fork(pages: 262_144) }, live: { Live.fork(pages: 262_144) }),
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
var failed = false
for w in workloads {
  do {
    let sim = try w.sim()
    let simPerOp = sim / Double(w.count)
    let live = runLive ? w.live() : nil
    let livePerOp = live.map { $0 / Double(w.count) }
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
print("host bytes per resident simulated page: \(fmt(bytesPerPage, 1))")
if !args.contains("--no-script") { ScriptBench.run(lines: 100_000) }
if failed { exit(1) }
