// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "mops",
  products: [
    .library(name: "MopsEngine", targets: ["MopsEngine"]),
    .executable(name: "mops-bench", targets: ["MopsBench"]),
  ],
  targets: [
    // Vocabulary shared by every layer: errno, signals, syscall flag sets, typed
    // addresses and the observation records every backend produces.
    .target(name: "MopsABI"),
    // The model of the kernel's anonymous-memory code. Pure Swift, no I/O.
    .target(
      name: "MopsEngine", dependencies: ["MopsABI"],
      // World, MM and the page tables are class properties touched many times per
      // page fault; release builds skip the dynamic exclusivity checks on them
      // (debug and test builds keep them).
      swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
    // Engine throughput and memory figures (`swift run -c release mops-bench`).
    .executableTarget(name: "MopsBench", dependencies: ["MopsEngine"]),
    .testTarget(name: "MopsEngineTests", dependencies: ["MopsEngine"]),
  ],
  swiftLanguageModes: [.v6]
)
