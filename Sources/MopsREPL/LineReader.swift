/// What reading one line produced.
public enum LineInput: Equatable, Sendable {
  /// A line, without its newline.
  case line(String)
  /// Ctrl-C: abandon the current line and any unfinished block.
  case interrupted
  /// Ctrl-D on an empty line, or the end of standard input.
  case endOfInput
}

/// Where the REPL's lines come from: a terminal with line editing, or plain input.
public protocol LineReader: AnyObject {
  /// A person types at a terminal: show prompts, colour, and keep going after errors.
  var isInteractive: Bool { get }
  /// Reads one line, showing `prompt` where the reader shows prompts.
  func readLine(prompt: String) -> LineInput
  /// Tells the reader the names the session has bound now, for completion.
  func updateBoundNames(_ names: [String])
}
