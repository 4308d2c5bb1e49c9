/// How bad a diagnostic is.
public enum Severity: String, Hashable, Sendable {
  /// The script cannot run.
  case error
  /// The script runs, but probably not as meant.
  case warning
  /// Extra information attached to another diagnostic.
  case note
}

/// A stable diagnostic identifier (`E0104`), so fixtures, documentation and
/// `# mops: expect-error` directives can name a diagnostic without quoting its text.
///
/// `E00xx` are lexical, `E01xx` syntactic, `E02xx` semantic (the checker), `E03xx`
/// directives, `W…` warnings. An ID is never reused for a different meaning.
public struct DiagnosticID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: String
  public init(rawValue: String) { self.rawValue = rawValue }
  public var description: String { rawValue }

  // Lexical
  /// A byte that cannot start any token (binary data, `@`, a non-ASCII letter).
  public static let invalidCharacter = DiagnosticID(rawValue: "E0001")
  /// An integer literal that does not fit in 64 bits.
  public static let numberTooLarge = DiagnosticID(rawValue: "E0002")
  /// A string literal not closed before the end of the line.
  public static let unterminatedString = DiagnosticID(rawValue: "E0003")
  /// A backslash escape other than `\n \t \r \0 \\ \' \" \xHH`.
  public static let invalidEscape = DiagnosticID(rawValue: "E0004")
  /// A character literal that is not exactly one byte.
  public static let invalidCharacterLiteral = DiagnosticID(rawValue: "E0005")
  /// A malformed number (`0x`, `12ab`, a lowercase or unknown size suffix).
  public static let invalidNumber = DiagnosticID(rawValue: "E0006")
  /// An operator spelled as in another language (`&&`, `!`, `..`).
  public static let unknownOperator = DiagnosticID(rawValue: "E0007")

  // Syntax
  /// The input ended inside an open block, after an operator, or in an `expect` block.
  /// A REPL reads another line when this is the only error.
  public static let unexpectedEndOfInput = DiagnosticID(rawValue: "E0100")
  /// A line that does not start with a statement keyword or `NAME =`.
  public static let expectedStatement = DiagnosticID(rawValue: "E0101")
  /// An expression was needed here.
  public static let expectedExpression = DiagnosticID(rawValue: "E0102")
  /// A specific token or word was needed here.
  public static let expectedToken = DiagnosticID(rawValue: "E0103")
  /// An errno name after `=>` that the kernel does not have.
  public static let unknownErrno = DiagnosticID(rawValue: "E0104")
  /// A signal or signal-code name after `=>` that is not SIGSEGV/SIGBUS and their codes.
  public static let unknownSignal = DiagnosticID(rawValue: "E0105")
  /// An outcome after `=>` that is none of ok, an errno, a signal, userfault, not modelled.
  public static let invalidOutcome = DiagnosticID(rawValue: "E0106")
  /// Blocks or expressions nested deeper than the parser allows.
  public static let nestingTooDeep = DiagnosticID(rawValue: "E0107")
  /// Something after a complete statement on the same line.
  public static let extraInput = DiagnosticID(rawValue: "E0108")
  /// An option word the statement does not take (`mmap 4 pages shraed`).
  public static let unknownOption = DiagnosticID(rawValue: "E0109")
  /// A reserved word used as a name.
  public static let reservedName = DiagnosticID(rawValue: "E0110")
  /// A name that starts with an uppercase letter (those spell kernel constants).
  public static let capitalizedName = DiagnosticID(rawValue: "E0111")
  /// A `}` with no open block.
  public static let unbalancedBrace = DiagnosticID(rawValue: "E0112")
  /// An unknown view after `show` or `expect`.
  public static let unknownView = DiagnosticID(rawValue: "E0113")
  /// An unknown cost counter after `cost`.
  public static let unknownCounter = DiagnosticID(rawValue: "E0114")

  // Semantics (checker)
  /// A name that is never bound.
  public static let undefinedName = DiagnosticID(rawValue: "E0201")
  /// A name used on a line before the line that binds it.
  public static let usedBeforeBinding = DiagnosticID(rawValue: "E0202")
  /// A name of the wrong kind (a process where a region is expected).
  public static let wrongKind = DiagnosticID(rawValue: "E0203")
  /// A name bound twice.
  public static let duplicateBinding = DiagnosticID(rawValue: "E0204")
  /// An expression of the wrong type (a bool where an address is expected).
  public static let typeMismatch = DiagnosticID(rawValue: "E0205")
  /// An advice name `madvise` does not know.
  public static let unknownAdvice = DiagnosticID(rawValue: "E0206")
  /// A VMA flag mnemonic after `has` that smaps does not print.
  public static let unknownVMFlag = DiagnosticID(rawValue: "E0207")
  /// An uppercase name that is no errno, advice or protection constant.
  public static let unknownConstant = DiagnosticID(rawValue: "E0208")
  /// An expected outcome on a statement that cannot have it.
  public static let outcomeNotAllowed = DiagnosticID(rawValue: "E0209")
  /// A constant out of range (a byte value above 255).
  public static let valueOutOfRange = DiagnosticID(rawValue: "E0210")
  /// A binding inside a `for` body.
  public static let bindingInLoop = DiagnosticID(rawValue: "E0211")
  /// Options that cannot be combined (`flags N` with flag words).
  public static let conflictingOptions = DiagnosticID(rawValue: "E0212")
  /// An option that needs another (`fixed` without `at ADDRESS`).
  public static let missingOption = DiagnosticID(rawValue: "E0213")
  /// A binding of a statement that gives no value (`x = munmap r`).
  public static let noValue = DiagnosticID(rawValue: "E0214")
  /// A move or copy where neither side says how many bytes.
  public static let missingLength = DiagnosticID(rawValue: "E0215")

  // Directives
  /// A `# mops:` directive that is malformed or unknown.
  public static let invalidDirective = DiagnosticID(rawValue: "E0301")

  // Warnings
  /// An option word given twice.
  public static let duplicateOption = DiagnosticID(rawValue: "W0001")
  /// A `# mops:` directive after the first statement (it still applies to the file).
  public static let lateDirective = DiagnosticID(rawValue: "W0002")

  /// Every diagnostic ID, in ID order (grammar.md lists the same).
  public static let all: [DiagnosticID] = [
    .invalidCharacter, .numberTooLarge, .unterminatedString, .invalidEscape, .invalidCharacterLiteral,
    .invalidNumber, .unknownOperator, .unexpectedEndOfInput, .expectedStatement, .expectedExpression,
    .expectedToken, .unknownErrno, .unknownSignal, .invalidOutcome, .nestingTooDeep, .extraInput,
    .unknownOption, .reservedName, .capitalizedName, .unbalancedBrace, .unknownView, .unknownCounter,
    .undefinedName, .usedBeforeBinding, .wrongKind, .duplicateBinding, .typeMismatch, .unknownAdvice,
    .unknownVMFlag, .unknownConstant, .outcomeNotAllowed, .valueOutOfRange, .bindingInLoop,
    .conflictingOptions, .missingOption, .noValue, .missingLength, .invalidDirective, .duplicateOption,
    .lateDirective,
  ]
}

/// Secondary information attached to a ``Diagnostic``, optionally at its own range.
public struct DiagnosticNote: Hashable, Sendable {
  public var range: SourceRange?
  public var message: String
  public init(_ message: String, at range: SourceRange? = nil) {
    self.range = range
    self.message = message
  }
}

/// One problem found in a script: a value, rendered only by ``DiagnosticRenderer``.
///
/// The message says what is wrong and what to do about it.
public struct Diagnostic: Hashable, Sendable {
  public var id: DiagnosticID
  public var severity: Severity
  public var range: SourceRange
  public var message: String
  public var notes: [DiagnosticNote]

  public init(
    _ id: DiagnosticID, _ severity: Severity = .error, at range: SourceRange, _ message: String,
    notes: [DiagnosticNote] = []
  ) {
    self.id = id
    self.severity = severity
    self.range = range
    self.message = message
    self.notes = notes
  }

  /// True for the "input ended too early" error a REPL answers with a continuation prompt.
  public var isUnexpectedEndOfInput: Bool { id == .unexpectedEndOfInput }
}

/// Collects diagnostics up to a limit and counts the rest, so garbage input costs
/// memory proportional to the limit, not to the input.
public struct DiagnosticBag: Sendable {
  /// How many diagnostics are kept; further ones are only counted.
  public let limit: Int
  public private(set) var diagnostics: [Diagnostic] = []
  /// Diagnostics reported after the limit was reached.
  public private(set) var suppressed = 0

  public init(limit: Int = 100) { self.limit = limit }

  /// Whether further reports are only counted.
  public var isFull: Bool { diagnostics.count >= limit }

  public var errorCount: Int { diagnostics.count(where: { $0.severity == .error }) + suppressed }
  public var hasErrors: Bool { errorCount > 0 }

  /// Records a diagnostic; the message is only built while under the limit.
  public mutating func report(
    _ id: DiagnosticID, _ severity: Severity = .error, at range: SourceRange,
    _ message: @autoclosure () -> String, notes: @autoclosure () -> [DiagnosticNote] = []
  ) {
    if diagnostics.count >= limit {
      suppressed += 1
      return
    }
    diagnostics.append(Diagnostic(id, severity, at: range, message(), notes: notes()))
  }

  /// Adds another bag's diagnostics (and its suppressed count).
  public mutating func merge(_ other: DiagnosticBag) {
    for d in other.diagnostics {
      if diagnostics.count >= limit { suppressed += 1 } else { diagnostics.append(d) }
    }
    suppressed += other.suppressed
  }

  /// The diagnostics in source order (stable for equal positions).
  public var sorted: [Diagnostic] {
    diagnostics.enumerated().sorted {
      ($0.element.range.start, $0.offset) < ($1.element.range.start, $1.offset)
    }.map(\.element)
  }
}

/// `text` as a message quotes it: at most `limit` characters, then `…`, so a name
/// or word of any length (a 100 MB identifier) prints as one short line.
func abbreviated(_ text: String, limit: Int = 40) -> String {
  var count = 0
  var end = text.startIndex
  while end < text.endIndex {
    if count == limit { return String(text[..<end]) + "…" }
    end = text.index(after: end)
    count += 1
  }
  return text
}
