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
    .target(name: "MopsEngine", dependencies: ["MopsABI"]),
    // The one interface the interpreter drives: operations, outcomes, observations.
    .target(name: "MopsBackend", dependencies: ["MopsABI"]),
    // The model as a backend.
    .target(name: "SimBackend", dependencies: ["MopsBackend", "MopsEngine"]),
    // Syscalls Swift cannot make directly (variadic ioctl, the userfaultfd uapi).
    .target(name: "CMopsLinux"),
    // The live kernel as a backend: worker processes, arena placement, /proc observations.
    .target(name: "LinuxBackend", dependencies: ["MopsBackend", "MopsABI", "CMopsLinux"]),
    // Engine throughput and memory figures (`swift run -c release mops-bench`).
    .executableTarget(name: "MopsBench", dependencies: ["MopsEngine", "CMopsLinux"]),
    .testTarget(name: "MopsEngineTests", dependencies: ["MopsEngine"]),
    .testTarget(name: "LinuxBackendTests", dependencies: ["LinuxBackend", "MopsBackend", "MopsABI", "CMopsLinux"]),
  ],
  swiftLanguageModes: [.v6]
)
