import Foundation
import Synchronization

/// The result of running one fixture.
public struct FixtureOutcome: Sendable {
  public enum Status: String, Sendable {
    case passed, failed, skipped
  }
  /// The fixture's path as given or discovered.
  public var path: String
  public var status: Status
  /// Wall time of the run.
  public var seconds: Double
  /// Why it failed (the rendered failure) or why it was skipped.
  public var message: String
  /// Checks inside a passing fixture that were skipped, each with its reason.
  public var skippedChecks: [String]

  public init(path: String, status: Status, seconds: Double, message: String = "", skippedChecks: [String] = []) {
    self.path = path
    self.status = status
    self.seconds = seconds
    self.message = message
    self.skippedChecks = skippedChecks
  }

  /// The fixture's name: its file name without `.mops`.
  public var name: String { ((path as NSString).lastPathComponent as NSString).deletingPathExtension }
}

/// Finds `.mops` fixtures and runs them, in parallel when asked.
public struct FixtureRunner: Sendable {
  /// How many fixtures run at once.
  public var jobs: Int
  /// Runs one fixture file.
  public var runOne: @Sendable (String) -> FixtureOutcome

  public init(jobs: Int, runOne: @escaping @Sendable (String) -> FixtureOutcome) {
    self.jobs = max(1, jobs)
    self.runOne = runOne
  }

  /// The `.mops` files named by `paths`: files as given, directories searched
  /// recursively, sorted; `filter` keeps those whose path contains it.
  public static func discover(_ paths: [String], filter: String? = nil) throws -> [String] {
    var found: [String] = []
    let fm = FileManager.default
    for path in paths {
      var isDir: ObjCBool = false
      guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
        throw FixtureError("no such file or directory: \(path)")
      }
      if !isDir.boolValue {
        found.append(path)
        continue
      }
      guard let e = fm.enumerator(atPath: path) else { continue }
      var inDir: [String] = []
      while let rel = e.nextObject() as? String {
        if rel.hasSuffix(".mops") { inDir.append((path as NSString).appendingPathComponent(rel)) }
      }
      found += inDir.sorted()
    }
    if let filter, !filter.isEmpty { found = found.filter { $0.contains(filter) } }
    return found
  }

  /// Runs `files`, calling `progress` (serialised) as each finishes; returns the
  /// outcomes in the order of `files`.
  public func run(_ files: [String], progress: @escaping @Sendable (FixtureOutcome) -> Void = { _ in })
    -> [FixtureOutcome]
  {
    let results = Mutex<[FixtureOutcome?]>(Array(repeating: nil, count: files.count))
    let next = Mutex(0)
    let runOne = self.runOne
    DispatchQueue.concurrentPerform(iterations: min(jobs, max(1, files.count))) { _ in
      while true {
        let i: Int = next.withLock { n in
          defer { n += 1 }
          return n
        }
        if i >= files.count { return }
        let outcome = runOne(files[i])
        results.withLock {
          $0[i] = outcome
          progress(outcome)
        }
      }
    }
    return results.withLock { $0.map { $0! } }
  }
}

/// A problem finding or reading fixtures.
public struct FixtureError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
