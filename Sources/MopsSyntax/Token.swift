/// The reserved words of the language. None of them can be used as a name.
///
/// Option words that only follow a statement's operands (`shared`, `missing`,
/// `dontwake`, `maps` …) are not reserved: the parser matches them by spelling where
/// they can occur.
public enum Keyword: String, CaseIterable, Hashable, Sendable {
  // statements
  case mmap, munmap, mprotect, madvise, mremap, touch, write, read, fork, exit, on
  case `for`, userfaultfd, api, register, unregister, close, remap
  case remapAnonPages = "remap_anon_pages"
  case copy, zeropage, pin, unpin, assert, print, show, expect, `let`
  // operators and connecting words
  case and, or, not, has, `true`, `false`, pages, page, len, `in`, via, at, to
  // observations
  case prot, flags, frame, mapcount, exclusive
  case anonExclusive = "anon_exclusive"
  case present
  case pteNone = "none"
  case writable, contents, byte, mapped
  case vmaStart = "vma_start"
  case vmaEnd = "vma_end"
  case size, vmas, rss
  case anonPages = "anon_pages"
  case moved, errno, result, cost

  /// The keywords that start a statement.
  public static let statementKeywords: [Keyword] = Array(allCases.prefix(while: { $0 != .and }))

  /// The observation this keyword names, if it names one.
  public var observation: Observation? {
    switch self {
    case .frame: return .frame
    case .mapcount: return .mapcount
    case .exclusive: return .exclusive
    case .anonExclusive: return .anonExclusive
    case .present: return .present
    case .zeropage: return .zeropage
    case .pteNone: return .pteNone
    case .writable: return .writable
    case .contents: return .contents
    case .byte: return .byte
    case .flags: return .flags
    case .prot: return .prot
    case .mapped: return .mapped
    case .vmaStart: return .vmaStart
    case .vmaEnd: return .vmaEnd
    case .size: return .size
    case .vmas: return .vmas
    case .rss: return .rss
    case .anonPages: return .anonPages
    case .moved: return .moved
    case .errno: return .errno
    case .result: return .result
    default: return nil
    }
  }
}

/// What kind of token the lexer produced.
public enum TokenKind: Hashable, Sendable {
  /// A lowercase-initial word that is not reserved: a name or an option word.
  case identifier
  /// An uppercase-initial word: an errno, signal, advice or protection constant.
  case constant
  case keyword(Keyword)
  /// A decimal or hex integer, possibly with a size suffix (`16K`); value in `Token.value`.
  case integer
  /// `'A'`; the byte in `Token.value`.
  case character
  /// `"…"`; decoded on demand from its range.
  case string
  case leftParen, rightParen, leftBracket, rightBracket, leftBrace, rightBrace
  case comma, semicolon
  /// `=` (binding)
  case assign
  /// `=>` (expected outcome)
  case fatArrow
  /// `<-` (move/copy direction)
  case leftArrow
  case equal, notEqual, less, lessEqual, greater, greaterEqual
  case plus, minus, star, slash, pipe
  /// `...` (inclusive range)
  case closedRange
  /// `..<` (half-open range)
  case halfOpenRange
  case newline
  case endOfInput
  /// Bytes that form no token; the lexer has already reported them.
  case invalid
}

/// One token: its kind, byte range and (for numbers and characters) value.
public struct Token: Hashable, Sendable {
  public var kind: TokenKind
  public var range: SourceRange
  /// The value of an integer or character token; the FNV-1a hash of an identifier's
  /// bytes; 0 otherwise.
  public var value: UInt64

  public init(_ kind: TokenKind, _ range: SourceRange, value: UInt64 = 0) {
    self.kind = kind
    self.range = range
    self.value = value
  }
}

/// Keyword lookup on raw bytes (no String is built for a word).
struct KeywordTable: Sendable {
  private var table = SpellingTable(capacity: 128)
  private let all = Keyword.allCases

  static let shared = KeywordTable()

  private init() {
    for k in all { table.add(k.rawValue) }
  }

  /// The keyword spelled by `buf[start..<end]` whose hash is `hash`, if any.
  @inline(__always)
  func lookup(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, hash: UInt32) -> Keyword? {
    table.find(buf, start, end, hash: hash).map { all[$0] }
  }
}
