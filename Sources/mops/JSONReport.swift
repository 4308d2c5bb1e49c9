import Foundation
import MopsBackend
import MopsFixtures
import MopsInterpreter
import MopsSyntax

/// The `--json` document of one script run.
enum JSONReport {
  struct Document: Encodable {
    var file: String
    var backend: String
    var status: String
    var statements: [Statement]
    var failures: [Failure]
    var skippedChecks: [String]
    var diagnostics: String?
    /// With `--timing`: per backend, per operation class, calls and nanoseconds.
    var timing: [Timing]?
  }
  struct Timing: Encodable {
    var backend: String
    var operations: [Row]
    var observations: Row
  }
  struct Row: Encodable {
    var name: String
    var count: Int
    var nanoseconds: UInt64
  }
  struct Statement: Encodable {
    var line: Int
    var source: String
    var outcome: String
    var value: UInt64?
    var field: Int64?
  }
  struct Failure: Encodable {
    var id: String
    var message: String
    var notes: [String]
  }

  static func encode(path: String, backend: BackendKind, result: ScriptResult) -> String {
    let status: String
    switch result.status {
    case .passed: status = "passed"
    case .failed: status = "failed"
    case .scriptError: status = "script-error"
    case .skipped: status = "skipped"
    case .internalError: status = "internal-error"
    }
    let report = result.report
    let doc = Document(
      file: path, backend: backend.rawValue, status: status,
      statements: report?.records.map {
        Statement(line: $0.line, source: $0.source, outcome: $0.outcome, value: $0.value, field: $0.field)
      } ?? [],
      failures: report?.failures.map { Failure(id: $0.id.rawValue, message: $0.message, notes: $0.notes.map(\.message)) } ?? [],
      skippedChecks: report?.skippedChecks ?? [],
      diagnostics: result.message.isEmpty ? nil : result.message,
      timing: result.timings.isEmpty
        ? nil
        : result.timings.map { t in
          Timing(
            backend: t.backend, operations: t.operations.map { Row(name: $0.name, count: $0.count, nanoseconds: $0.nanoseconds) },
            observations: Row(name: t.observations.name, count: t.observations.count, nanoseconds: t.observations.nanoseconds))
        })
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return (try? String(decoding: encoder.encode(doc), as: UTF8.self)) ?? "{}"
  }
}
