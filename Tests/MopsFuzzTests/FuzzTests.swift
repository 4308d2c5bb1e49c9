import Foundation
import MopsSyntax
import Testing

@testable import MopsFuzz

@Test func theSameSeedGeneratesTheSameScript() {
  let a = FuzzCampaign(seed: 7, scripts: 3, statements: 40)
  let b = FuzzCampaign(seed: 7, scripts: 3, statements: 40)
  #expect(a.script(2) == b.script(2))
  #expect(a.script(1) != a.script(2))
}

@Test func generatedScriptsAreValid() {
  let campaign = FuzzCampaign(seed: 3, scripts: 1000, statements: 50)
  for i in 0..<1000 {
    let text = campaign.script(i).joined(separator: "\n")
    let result = MopsCheck.check(SourceFile(path: "script\(i)", text: text))
    #expect(result.checked != nil, "script \(i) does not check:\n\(text)\n\(DiagnosticRenderer().render(result.diagnostics, in: SourceFile(path: "script\(i)", text: text)))")
    if result.checked == nil { break }
  }
}

/// The fixed-seed campaign CI runs: 300 generated scripts of 50 statements each on the
/// model and the live kernel in lockstep, with no disagreement.
@Test func fixedSeedCampaignFindsNoDisagreement() throws {
  guard geteuid() == 0, access("/dev/userfaultfd", R_OK | W_OK) == 0 else {
    try Test.cancel("needs root and /dev/userfaultfd to compare the model with the live kernel")
  }
  let summary = try FuzzCampaign(seed: 1, scripts: 300, statements: 50).run()
  #expect(summary.scripts == 300)
  for f in summary.findings {
    Issue.record("script \(f.scriptIndex) disagrees:\n\(f.message)\nreproducer:\n\(f.reproducer)")
  }
}
