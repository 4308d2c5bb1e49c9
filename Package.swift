// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "mops",
  products: [
    .library(name: "MopsEngine", targets: ["MopsEngine"]),
    .executable(name: "mops", targets: ["mops"]),
    .executable(name: "mops-bench", targets: ["MopsBench"]),
    .library(name: "MopsSyntax", targets: ["MopsSyntax"]),
    .executable(name: "mops-syntax-bench", targets: ["MopsSyntaxBench"]),
    .executable(name: "mops-repl-bench", targets: ["MopsREPLBench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    // The command line: run, check, test (and the REPL).
    .executableTarget(
      name: "mops",
      dependencies: [
        "MopsBackend", "MopsFixtures", "MopsFuzz", "MopsInterpreter", "MopsREPL", "MopsSyntax",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // Vocabulary shared by every layer: errno, signals, syscall flag sets, typed
    // addresses and the observation records every backend produces.
    .target(
      name: "MopsABI",
      swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]),
    // The model of the kernel's anonymous-memory code. Pure Swift, no I/O.
    .target(
      name: "MopsEngine", dependencies: ["MopsABI"],
      // World, MM and the page tables are class properties touched many times per
      // page fault; release builds skip the dynamic exclusivity checks on them
      // (debug and test builds keep them).
      swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
    // The one interface the interpreter drives: operations, outcomes, observations.
    .target(name: "MopsBackend", dependencies: ["MopsABI"]),
    // The model as a backend.
    .target(name: "SimBackend", dependencies: ["MopsBackend", "MopsEngine"]),
    // Runs two backends in lockstep and stops at their first disagreement.
    .target(name: "DiffBackend", dependencies: ["MopsBackend"]),
    // Discovers, runs and reports `.mops` fixtures (`mops test`, `swift test`).
    .target(
      name: "MopsFixtures", dependencies: ["MopsInterpreter", "MopsSyntax", "SimBackend", "LinuxBackend", "DiffBackend"]),
    // Random scripts under --backend both, with shrinking of every disagreement.
    .target(name: "MopsFuzz", dependencies: ["MopsFixtures", "MopsInterpreter", "MopsSyntax"]),
    // Syscalls Swift cannot make directly (variadic ioctl, the userfaultfd uapi).
    .target(name: "CMopsLinux"),
    // The live kernel as a backend: worker processes, arena placement, /proc observations.
    .target(name: "LinuxBackend", dependencies: ["MopsBackend", "MopsABI", "CMopsLinux"]),
    // Engine throughput and memory figures (`swift run -c release mops-bench`).
    .executableTarget(
      name: "MopsBench",
      dependencies: ["MopsEngine", "CMopsLinux", "MopsInterpreter", "MopsSyntax", "SimBackend", "MopsBackend"]),
    .testTarget(name: "MopsEngineTests", dependencies: ["MopsEngine"]),
    // The .mops language: source text → tokens → syntax tree → checked script, with
    // diagnostics rendered in one place. Depends on the ABI for kernel names only.
    .target(name: "MopsSyntax", dependencies: ["MopsABI"]),
    // Runs checked scripts against any backend; owns names, expectations, assertions.
    .target(name: "MopsInterpreter", dependencies: ["MopsSyntax", "MopsBackend"]),
    // Parse+check throughput (`swift run -c release mops-syntax-bench`).
    .executableTarget(name: "MopsSyntaxBench", dependencies: ["MopsSyntax"]),
    .testTarget(name: "MopsSyntaxTests", dependencies: ["MopsSyntax"]),
    .testTarget(name: "MopsFixturesTests", dependencies: ["MopsFixtures"]),
    .testTarget(name: "MopsCLITests", dependencies: ["mops"]),
    .testTarget(name: "MopsFuzzTests", dependencies: ["MopsFuzz", "MopsSyntax"]),
    .testTarget(name: "LinuxBackendTests", dependencies: ["LinuxBackend", "MopsBackend", "MopsABI", "CMopsLinux"]),
    // libedit (line editing, history, completion) through its readline-compatible API.
    .systemLibrary(name: "CEditLine", providers: [.apt(["libedit-dev"])]),
    // The interactive loop: line readers (libedit, plain stdin), sessions with undo,
    // meta commands, :save and :record.
    .target(
      name: "MopsREPL", dependencies: ["MopsInterpreter", "MopsSyntax", "MopsBackend", "CEditLine"]),
    // Statement latency at the prompt on a session holding many pages
    // (`swift run -c release mops-repl-bench`).
    .executableTarget(name: "MopsREPLBench", dependencies: ["MopsREPL", "SimBackend"]),
    // Unit tests of the loop, and end-to-end tests driving the built `mops` through a
    // pseudo-terminal (repl_pty.py).
    .testTarget(
      name: "MopsREPLTests", dependencies: ["MopsREPL", "MopsFixtures", "SimBackend"], exclude: ["repl_pty.py"]),
  ],
  swiftLanguageModes: [.v6]
)
