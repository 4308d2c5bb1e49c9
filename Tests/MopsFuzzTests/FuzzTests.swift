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
