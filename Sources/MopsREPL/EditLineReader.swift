import CEditLine
import Glibc
import Synchronization

/// Reads lines at a terminal through libedit: emacs-style editing, history kept in a
/// file across sessions, Ctrl-R incremental history search, and TAB completion of
/// keywords, kernel constants and the session's names.
///
/// libedit's readline-compatible interface covers all of it. Signals stay with mops
/// (`rl_catch_signals = 0`); keys come through ``EditLineReader/getc`` so Ctrl-C can
/// end a line: the SIGINT handler sets a flag, `read` returns `EINTR`, and the reader
/// answers a newline, which returns the line to be discarded.
public final class EditLineReader: LineReader {
  /// How many lines the history keeps.
  static let historyLimit: Int32 = 1000
  /// Characters that end a word for completion (`r[` completes after the bracket).
  static let wordBreaks = " \t\n\"'[](){},;=<>|+-*/"

  static let completer = Mutex(Completer())

  private let historyPath: String?

  /// A reader that loads and saves its history at `historyPath` (no file when nil)
  /// and draws prompts on standard error when `promptsOnStandardError` (standard output
  /// is redirected while a person types).
  public init(historyPath: String?, promptsOnStandardError: Bool) {
    self.historyPath = historyPath
    Interrupts.install()
    mops_rl_configure(
      EditLineReader.getc, EditLineReader.complete, EditLineReader.wordBreaks, promptsOnStandardError ? 1 : 0)
    using_history()
    stifle_history(EditLineReader.historyLimit)
    if let historyPath { _ = read_history(historyPath) }
  }

  public var isInteractive: Bool { true }

  public func readLine(prompt: String) -> LineInput {
    Interrupts.pending.store(false, ordering: .relaxed)
    Interrupts.reading.store(true, ordering: .relaxed)
    let raw = readline(prompt)
    Interrupts.reading.store(false, ordering: .relaxed)
    defer { free(raw) }
    if Interrupts.pending.exchange(false, ordering: .relaxed) { return .interrupted }
    guard let raw else { return .endOfInput }
    let line = String(cString: raw)
    if line.contains(where: { $0 != " " && $0 != "\t" }) {
      add_history(line)
      if let historyPath { _ = write_history(historyPath) }
    }
    return .line(line)
  }

  public func updateBoundNames(_ names: [String]) {
    EditLineReader.completer.withLock { $0.boundNames = names }
  }

  // MARK: Callbacks from libedit

  /// Reads one key from the terminal; a newline once Ctrl-C was pressed; -1 at the end.
  private static let getc: @convention(c) (UnsafeMutablePointer<FILE>?) -> Int32 = { _ in
    var byte: UInt8 = 0
    while true {
      if Interrupts.pending.load(ordering: .relaxed) { return 0x0A }
      let n = read(STDIN_FILENO, &byte, 1)
      if n == 1 { return Int32(byte) }
      if n < 0 && errno == EINTR { continue }
      return -1
    }
  }

  /// The completions of the word `text` that starts at byte `start` of the line, in
  /// the format libedit's `fn_complete` reads: the common prefix, then every match
  /// (also when there is one), then NULL. Returns NULL for no match, and after `:load`
  /// and `:save` lets libedit complete file names.
  private static let complete:
    @convention(c) (UnsafePointer<CChar>?, Int32, Int32) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = {
      text, start, _ in
      let word = text.map { String(cString: $0) } ?? ""
      let before = mops_rl_line_buffer().map {
        String(decoding: UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: Int(start)), as: UTF8.self)
      } ?? ""
      let command = before.split(separator: " ").first
      if command == ":load" || command == ":save" { return nil }
      mops_rl_completion_done()
      let candidates = EditLineReader.completer.withLock { $0.candidates(for: word, after: before) }
      guard let first = candidates.first else { return nil }
      var common = Substring(first)
      for c in candidates.dropFirst() {
        while !c.hasPrefix(common) { common = common.dropLast() }
      }
      let entries = [String(common)] + candidates
      // libedit frees the array and its strings with free(3).
      let matches = malloc(MemoryLayout<UnsafeMutablePointer<CChar>?>.stride * (entries.count + 1))!
        .assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self)
      for (i, e) in entries.enumerated() { matches[i] = strdup(e) }
      matches[entries.count] = nil
      return matches
    }
}
