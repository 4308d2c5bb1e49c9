import Foundation
import Glibc

/// Monotonic nanoseconds.
func now() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Runs `body` and returns the seconds it took.
func timed(_ body: () throws -> Void) rethrows -> Double {
  let start = now()
  try body()
  return Double(now() - start) / 1e9
}

/// This process's resident set size in bytes (`/proc/self/statm`).
func residentBytes() -> Int {
  guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
  let fields = text.split(separator: " ")
  guard fields.count >= 2, let resident = Int(fields[1]) else { return 0 }
  return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}
