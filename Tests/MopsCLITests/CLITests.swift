import Foundation
import Testing

/// End-to-end tests of the built `mops` binary: stdout, stderr and exit status, in the
/// manner of swift-argument-parser's EndToEnd tests.
struct CLIRun {
  var status: Int32
  var stdout: String
  var stderr: String
}

/// The `mops` executable built beside the test bundle.
let mopsBinary: URL = {
  var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
  while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("mops").path), dir.path != "/" {
    dir = dir.deletingLastPathComponent()
  }
  return dir.appendingPathComponent("mops")
}()

func mops(_ args: [String], stdin: String? = nil, in directory: URL? = nil) throws -> CLIRun {
  let p = Process()
  p.executableURL = mopsBinary
  p.arguments = args
  if let directory { p.currentDirectoryURL = directory }
  var env = ProcessInfo.processInfo.environment
  env["NO_COLOR"] = "1"
  p.environment = env
  let out = Pipe()
  let err = Pipe()
  p.standardOutput = out
  p.standardError = err
  let input = Pipe()
  p.standardInput = input
  try p.run()
  if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
  try input.fileHandleForWriting.close()
  let o = out.fileHandleForReading.readDataToEndOfFile()
  let e = err.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  return CLIRun(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// A temporary directory holding `files`.
func scratch(_ files: [String: String]) throws -> URL {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mops-cli-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
  return dir
}

@Test func runOfAPassingScriptExitsZeroAndPrintsItsViews() throws {
  let dir = try scratch(["ok.mops": "r = mmap 2 pages\ntouch r write 'A'\nassert contents r[1] == 'A'\nshow maps\n"])
  let r = try mops(["run", "ok.mops"], in: dir)
  #expect(r.status == 0, "\(r.stderr)")
  #expect(r.stdout.contains("rw-p 00000000"))
  #expect(r.stderr.isEmpty)
}

@Test func failedAssertionExitsOneWithLocationCaretAndValues() throws {
  let dir = try scratch(["bad.mops": "r = mmap 1 page\ntouch r write 'A'\nassert mapcount r[0] == 2\n"])
  let r = try mops(["run", "bad.mops"], in: dir)
  #expect(r.status == 1)
  #expect(r.stderr.contains("bad.mops:3:8: error: assertion failed: mapcount r[0] == 2 [F0002]"))
  #expect(r.stderr.contains(" 3 | assert mapcount r[0] == 2"))
  #expect(r.stderr.contains("^~~~"))
  #expect(r.stderr.contains("mapcount r[0] = 1"))
}

@Test func unexpectedErrnoExplainsWhoSharesThePage() throws {
  let script = """
    src = mmap 1 page
    dst = mmap 1 page
    touch src write 'A'
    u = userfaultfd
    api u
    register u dst missing
    child = fork
    remap dst <- src via u
    """
  let dir = try scratch(["busy.mops": script])
  let r = try mops(["run", "busy.mops"], in: dir)
  #expect(r.status == 1)
  #expect(r.stderr.contains("UFFDIO_MOVE failed with EBUSY (field -16, -EBUSY); the script expected success"))
  #expect(r.stderr.contains("why: UFFDIO_MOVE needs PageAnonExclusive: page at 0x"))
  #expect(r.stderr.contains("child (pid"))
  #expect(r.stderr.contains("fork that created child at line 7"))
  #expect(r.stderr.contains("MADV_DONTFORK"))
}

@Test func scriptErrorsExitSixtyFiveWithEveryErrorInOnePass() throws {
  let dir = try scratch(["syntax.mops": "r = mmap 4 pages\nremap r <- r via u => EBUSSY\ntouch q\n"])
  let r = try mops(["check", "syntax.mops"], in: dir)
  #expect(r.status == 65)
  #expect(r.stderr.contains("syntax.mops:2:"))
  #expect(r.stderr.contains("EBUSY"))
  #expect(r.stderr.contains("syntax.mops:3:"))
  let run = try mops(["run", "syntax.mops"], in: dir)
  #expect(run.status == 65)
}

@Test func binaryGarbageIsAScriptErrorNotACrash() throws {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mops-cli-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  var bytes = [UInt8]()
  var x: UInt32 = 12345
  for _ in 0..<100_000 {
    x = x &* 1_103_515_245 &+ 12345
    bytes.append(UInt8(truncatingIfNeeded: x >> 16))
  }
  try Data(bytes).write(to: dir.appendingPathComponent("garbage.mops"))
  let r = try mops(["run", "garbage.mops"], in: dir)
  #expect(r.status == 65)
  #expect(r.stderr.contains("garbage.mops:1:"))
}

@Test func usageErrorsExitSixtyFour() throws {
  #expect(try mops(["run"]).status == 64)
  #expect(try mops(["test", "--jobs", "0"]).status == 64)
  #expect(try mops(["run", "--backend", "qemu", "x.mops"]).status == 64)
}

@Test func testCommandPrintsOneLinePerFixtureAndTheSummary() throws {
  let dir = try scratch([
    "pass.mops": "r = mmap 1 page\ntouch r read\nassert zeropage r[0]\n",
    "fail.mops": "r = mmap 1 page\nassert present r[0]\n",
    "skip.mops": "# mops: skip sim: exercised on the live kernel only\nr = mmap 1 page\nassert none r[0]\n",
  ])
  let r = try mops(["test", "--junit", "out.xml", "."], in: dir)
  #expect(r.status == 1)
  #expect(r.stdout.contains("PASS ./pass.mops"))
  #expect(r.stdout.contains("FAIL ./fail.mops"))
  #expect(r.stdout.contains("SKIP ./skip.mops: skipped on sim: exercised on the live kernel only"))
  #expect(r.stdout.hasSuffix("1 passed, 1 failed, 1 skipped\n"))
  let xml = try String(contentsOf: dir.appendingPathComponent("out.xml"), encoding: .utf8)
  #expect(xml.contains("tests=\"3\" failures=\"1\" skipped=\"1\""))
  let tap = try mops(["test", "--tap", "."], in: dir)
  #expect(tap.stdout.contains("1..3"))
  #expect(tap.stdout.contains("not ok"))
  #expect(tap.stdout.contains("# SKIP"))
}

@Test func traceAndJSONReportEveryStatement() throws {
  let dir = try scratch(["t.mops": "r = mmap 1 page\nmunmap r\ntouch r read => SIGSEGV SEGV_MAPERR\n"])
  let t = try mops(["run", "--trace", "t.mops"], in: dir)
  #expect(t.status == 0, "\(t.stderr)")
  #expect(t.stdout.contains("[3] touch r read => SIGSEGV SEGV_MAPERR => SIGSEGV (SEGV_MAPERR) at 0x"))
  let j = try mops(["run", "--json", "t.mops"], in: dir)
  #expect(j.status == 0)
  let doc = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
  #expect(doc?["status"] as? String == "passed")
  #expect((doc?["statements"] as? [Any])?.count == 3)
}

@Test func timingReportsEachOperationClassPerBackend() throws {
  let dir = try scratch(["t.mops": "r = mmap 2 pages\ntouch r write 'A'\ntouch r[0] write 'B'\nmunmap r\n"])
  let sim = try mops(["run", "--timing", "t.mops"], in: dir)
  #expect(sim.status == 0, "\(sim.stderr)")
  #expect(sim.stdout.contains("timing (wall time inside each backend):"))
  let lines = sim.stdout.split(separator: "\n").map(String.init)
  #expect(lines.contains { $0.hasPrefix("mmap ") && $0.contains(" 1 ") })
  #expect(lines.contains { $0.hasPrefix("write access ") && $0.contains(" 3 ") })
  #expect(lines.contains { $0.hasPrefix("all operations ") && $0.contains(" 5 ") })
  #expect(lines.first { $0.hasPrefix("operation") }?.contains("sim/call") == true)
  let j = try mops(["run", "--json", "--timing", "t.mops"], in: dir)
  let doc = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
  let timing = doc?["timing"] as? [[String: Any]]
  #expect(timing?.first?["backend"] as? String == "sim")
  let rows = timing?.first?["operations"] as? [[String: Any]] ?? []
  #expect(rows.contains { $0["name"] as? String == "write access" && $0["count"] as? Int == 3 })
}

@Test(
  .enabled(
    if: getuid() == 0 && FileManager.default.isWritableFile(atPath: "/dev/userfaultfd"),
    "the live backend needs root and /dev/userfaultfd"))
func timingWithBothBackendsGivesTheRatio() throws {
  let dir = try scratch(["t.mops": "r = mmap 2 pages\ntouch r write 'A'\ntouch r[0] write 'B'\nmunmap r\n"])
  let both = try mops(["run", "--timing", "--backend", "both", "t.mops"], in: dir)
  #expect(both.status == 0, "\(both.stderr)")
  let header = both.stdout.split(separator: "\n").first { $0.hasPrefix("operation") }.map(String.init) ?? ""
  #expect(header.contains("sim/call") && header.contains("linux/call") && header.contains("linux÷sim"))
  #expect(both.stdout.split(separator: "\n").contains { $0.hasPrefix("munmap ") && $0.hasSuffix("x") })
}
