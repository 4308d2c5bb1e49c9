import Foundation
import Testing

@testable import MopsFixtures

/// The repository root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent().path

/// Every example and fixture script, relative to the repository root.
let allScripts: [String] = {
  let roots = ["examples", "Tests/Fixtures"].map { repositoryRoot + "/" + $0 }
  let files = (try? FixtureRunner.discover(roots)) ?? []
  return files.map { String($0.dropFirst(repositoryRoot.count + 1)) }
}()

/// Runs one script on the sim backend through the same runner as `mops test`: it must
/// pass, or be skipped by a directive with its reason (never counted as a pass).
@Test(arguments: allScripts)
func scriptPassesOnSim(_ path: String) throws {
  let r = ScriptRun.run(path: repositoryRoot + "/" + path, backend: .sim)
  if case .skipped(let why) = r.status { try Test.cancel(Comment(rawValue: why)) }
  #expect(r.status == .passed, Comment(rawValue: r.message))
}

@Test func suiteHasTheFixturesItPromises() {
  #expect(allScripts.filter { $0.hasPrefix("examples/") }.count >= 8)
  #expect(allScripts.filter { $0.hasPrefix("Tests/Fixtures/") }.count >= 120)
}

/// Runs one script on the model and the live kernel in lockstep: the run must pass
/// with no disagreement, or be skipped by a directive with its reason.
@Test(arguments: allScripts)
func scriptAgreesWithTheLiveKernel(_ path: String) throws {
  let r = ScriptRun.run(path: repositoryRoot + "/" + path, backend: .both)
  if case .skipped(let why) = r.status { try Test.cancel(Comment(rawValue: why)) }
  #expect(r.status == .passed, Comment(rawValue: r.message))
}
