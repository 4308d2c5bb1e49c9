import Foundation
import MopsSyntax

/// A line that starts with `:`: a command to the REPL, not a statement.
enum MetaCommand: Equatable {
  case help(topic: String?)
  case quit
  case load(path: String)
  case save(path: String)
  case record
  case undo
  case reset
  case backend(name: String)

  /// Every command name, for completion and `:help`.
  static let names = ["help", "quit", "load", "save", "record", "undo", "reset", "backend"]

  /// One line per command for `:help`.
  static let summary = """
    :help [STATEMENT]   list the statements, or explain one with an example
    :quit               leave (so does Ctrl-D on an empty line)
    :load FILE          run a script into the session
    :save FILE          write the session's statements as a runnable script
    :record             append assertions pinning what the named regions show now
    :undo               return to the state before the last input
    :reset              start again from an empty session
    :backend NAME       start again on another backend (sim, linux, both)
    """

  /// Parses `line` (which starts with `:`), or explains what is wrong with it.
  static func parse(_ line: String) -> Result<MetaCommand, MetaCommandError> {
    let words = line.dropFirst().split(separator: " ", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
    let name = words.first ?? ""
    let argument = words.count > 1 && !words[1].isEmpty ? words[1] : nil
    func needs(_ what: String, _ make: (String) -> MetaCommand) -> Result<MetaCommand, MetaCommandError> {
      guard let argument else { return .failure(MetaCommandError(message: ":\(name) needs \(what), as in `:\(name) \(what)`")) }
      return .success(make(argument))
    }
    func alone(_ command: MetaCommand) -> Result<MetaCommand, MetaCommandError> {
      argument == nil ? .success(command) : .failure(MetaCommandError(message: ":\(name) takes no argument"))
    }
    switch name {
    case "help", "h", "?": return .success(.help(topic: argument))
    case "quit", "q", "exit": return alone(.quit)
    case "load": return needs("FILE") { .load(path: $0) }
    case "save": return needs("FILE") { .save(path: $0) }
    case "record": return alone(.record)
    case "undo": return alone(.undo)
    case "reset": return alone(.reset)
    case "backend": return needs("NAME") { .backend(name: $0) }
    default:
      let suggestion = KernelNames.suggestion(for: name, among: names).map { "; did you mean `:\($0)`?" } ?? ""
      return .failure(MetaCommandError(message: "unknown command `:\(name)`\(suggestion) (`:help` lists them)"))
    }
  }
}

/// Why a `:` line is not a command.
struct MetaCommandError: Error, Equatable {
  var message: String
}
