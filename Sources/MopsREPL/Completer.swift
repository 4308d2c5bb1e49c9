import MopsABI
import MopsSyntax

/// Tab completion: the words that can finish the word before the cursor.
///
/// The first word of a line completes to the statement keywords and the names the
/// session has bound (for `NAME = …`), or after `:` to meta commands. Later words:
/// uppercase ones complete to kernel constants (errno, advice, protection and signal
/// names), lowercase ones to reserved, option and view words and bound names; after
/// `madvise TARGET ` and `=> ` only advice and outcome names are offered.
struct Completer: Sendable {
  /// Names bound in the session (regions, processes, uffds, values).
  var boundNames: [String]

  init(boundNames: [String] = []) {
    self.boundNames = boundNames
  }

  /// The keywords a statement starts with.
  static let statementKeywords: [Keyword] = [
    .mmap, .munmap, .mprotect, .madvise, .mremap, .touch, .write, .read, .fork, .exit, .on, .for, .userfaultfd,
    .api, .register, .unregister, .close, .remap, .remapAnonPages, .copy, .zeropage, .pin, .unpin, .assert,
    .print, .show, .expect, .let,
  ]
  static let keywords = Keyword.allCases.map(\.rawValue)
  static let lowercaseWords = keywords + Vocabulary.optionWords + Vocabulary.views + ["ok", "userfault", "modelled"]
  static let signalNames = KernelNames.signals.map(\.name) + KernelNames.signalCodes.map(\.name)
  static let adviceNames = KernelNames.adviceNames.flatMap { [$0, "MADV_" + $0] }
  static let constants =
    KernelNames.errnoNames + KernelNames.adviceNames + KernelNames.protNames.map(\.0) + signalNames

  /// The sorted, distinct candidates for `word`, the text from the start of the word
  /// to the cursor, with `before` the line up to the start of the word.
  func candidates(for word: String, after before: String) -> [String] {
    let context = before.split(whereSeparator: { $0 == " " || $0 == "\t" })
    let pool: [String]
    if context.isEmpty {
      pool = word.hasPrefix(":") ? MetaCommand.names.map { ":" + $0 } : Completer.statementKeywords.map(\.rawValue) + boundNames
    } else if context.first == ":help" {
      pool = Help.topics
    } else if context.last == "=>" {
      pool = KernelNames.errnoNames + Completer.signalNames + Vocabulary.outcomeWords
    } else if context.first == "madvise" && context.count >= 2 {
      pool = Completer.adviceNames
    } else if word.first?.isUppercase == true {
      pool = Completer.constants
    } else {
      pool = Completer.lowercaseWords + boundNames
    }
    return Array(Set(pool.filter { $0.hasPrefix(word) })).sorted()
  }
}
