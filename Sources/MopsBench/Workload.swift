/// One operation class measured on the sim and on the live kernel with the same work.
struct Workload {
  /// What is measured ("write fault").
  var name: String
  /// How many operations one run performs.
  var count: Int
  /// The live kernel's time per operation quoted as the reference for this machine.
  var referenceSecondsPerOp: Double
  /// Runs the work on the model; returns the seconds the measured part took.
  var sim: () throws -> Double
  /// Runs the work on the live kernel; returns the seconds, or nil when unavailable.
  var live: () -> Double?
}

/// The `i`th page of `n` (a power of two) in a scattered order: a stride that is odd,
/// so it visits every page once, and large, so neighbouring faults land far apart.
func scatteredPage(_ i: Int, of n: Int) -> Int { (i &* 40_503) & (n - 1) }
