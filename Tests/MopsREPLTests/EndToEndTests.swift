import Foundation
import Testing

/// The `mops` that `swift build` put next to this test binary (every product of the
/// package lands in one directory).
let builtMops: String = {
  let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
  return testBinary.deletingLastPathComponent().appendingPathComponent("mops").path
}()

/// The pseudo-terminal driver, next to this file.
let ptyDriver = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("repl_pty.py").path

/// Each scenario of `repl_pty.py` drives the real binary through a pseudo-terminal
/// (editing keys, TAB, Up and Ctrl-R, Ctrl-C, Ctrl-D) and checks what the screen shows.
@Test(
  arguments: [
    "editing", "completion", "history", "continuation", "ctrl_c", "ctrl_c_twice", "ctrl_d", "errors", "color",
    "undo", "save_then_run", "plain_input",
  ])
func replThroughAPseudoTerminal(_ scenario: String) throws {
  try #require(FileManager.default.isExecutableFile(atPath: builtMops), "build mops first: no \(builtMops)")
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["python3", ptyDriver, builtMops, scenario]
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  process.standardInput = FileHandle.nullDevice
  try process.run()
  let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  #expect(process.terminationStatus == 0, Comment(rawValue: output))
  #expect(output.hasPrefix("ok \(scenario)"), Comment(rawValue: output))
}
