/// The index of a ``Binding`` in ``CheckedScript/bindings``.
public typealias BindingID = Int

/// The type of a value an expression produces.
public enum ValueType: String, Hashable, Sendable {
  /// A number: a size, a count, an address, a byte.
  case int
  case bool
  /// A physical page's identity (compared by identity, never by number).
  case frame
  /// The bytes of a page (`contents r[0] == 'A'`: every byte is 'A').
  case contents
  /// A VMA's flags (tested with `has`).
  case vmFlags
  case prot
  case errno
  case advice
  case string
  /// An address range `[start, start + length)`; in arithmetic it stands for its start.
  case range
  /// A region bound by `mmap`/`mremap` (a range that follows its mapping).
  case region
  /// The type of something already reported as an error (accepted silently).
  case unknown

  /// Article and noun for messages ("a frame").
  var phrase: String {
    switch self {
    case .int: return "a number"
    case .bool: return "a condition"
    case .frame: return "a frame"
    case .contents: return "page contents"
    case .vmFlags: return "VMA flags"
    case .prot: return "a protection"
    case .errno: return "an errno"
    case .advice: return "an advice"
    case .string: return "a string"
    case .range: return "a range"
    case .region: return "a region"
    case .unknown: return "a value"
    }
  }

  /// Usable as an address (a number, or the start of a range or region).
  var isAddress: Bool { self == .int || self == .range || self == .region || self == .unknown }
  /// Usable as a range.
  var isRange: Bool { self == .range || self == .region || self == .unknown }
}

/// What a name stands for.
public enum NameKind: Hashable, Sendable {
  /// A mapping bound by `mmap` or `mremap`; follows it through later `mremap`s.
  case region
  /// A process: `main`, or bound by `fork`.
  case process
  /// A userfaultfd handle bound by `userfaultfd`.
  case uffd
  /// A value captured by `let` (or a `for` loop variable, an int).
  case value(ValueType)
  /// Bound by a statement that had a syntax error; uses are not checked.
  case unknown

  var phrase: String {
    switch self {
    case .region: return "a region"
    case .process: return "a process"
    case .uffd: return "a userfaultfd"
    case .value(let t): return "a captured value (\(t.phrase))"
    case .unknown: return "a name"
    }
  }
}

/// One binding: a name, what it is, and where it was bound.
public struct Binding: Hashable, Sendable {
  public var name: String
  public var kind: NameKind
  /// The binding occurrence; nil for the predefined `main`.
  public var range: SourceRange?

  public init(name: String, kind: NameKind, range: SourceRange?) {
    self.name = name
    self.kind = kind
    self.range = range
  }
}

/// A script whose names are resolved and whose types check: what the interpreter
/// walks. Every ``Name`` in ``script`` maps to a binding through ``resolutions``.
public struct CheckedScript: Sendable {
  public var script: Script
  /// Every binding known, including `main` (ID 0) and, in a REPL, earlier inputs'.
  public var bindings: [Binding]
  /// For each name slot, the binding it refers to or introduces.
  public var resolutions: [BindingID]

  /// The binding a name occurrence refers to (or introduces).
  public func binding(for name: Name) -> BindingID { resolutions[Int(name.slot)] }
  /// What a name occurrence stands for.
  public func kind(of name: Name) -> NameKind { bindings[resolutions[Int(name.slot)]].kind }
}

/// The result of parsing and checking one file.
public struct CheckResult: Sendable {
  /// The checked script, when there is no error (warnings allowed).
  public var checked: CheckedScript?
  /// The syntax tree, even when it has errors.
  public var script: Script
  /// All diagnostics in source order, at most ``ParserLimits/diagnosticLimit``.
  public var diagnostics: [Diagnostic]
  /// Diagnostics beyond the limit (counted, not kept).
  public var suppressedCount: Int
  /// The input ended too early (see ``ParsedScript/isIncomplete``).
  public var isIncomplete: Bool

  public var hasErrors: Bool { suppressedCount > 0 || diagnostics.contains { $0.severity == .error } }
}

/// Parse and check in one call.
public enum MopsCheck {
  /// Parses and checks `file` with a fresh checker.
  public static func check(_ file: SourceFile) -> CheckResult {
    var checker = Checker()
    return checker.check(file)
  }
}
