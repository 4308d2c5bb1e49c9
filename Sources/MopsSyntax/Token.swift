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
  case present, none, writable, contents, byte, mapped
  case vmaStart = "vma_start"
  case vmaEnd = "vma_end"
  case size, vmas, rss
  case anonPages = "anon_pages"
  case moved, errno, result, cost
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
  /// The value of an integer or character token; 0 otherwise.
  public var value: UInt64

  public init(_ kind: TokenKind, _ range: SourceRange, value: UInt64 = 0) {
    self.kind = kind
    self.range = range
    self.value = value
  }
}

/// Keyword lookup on raw bytes without building a String: an open-addressing table
/// keyed by an FNV-1a hash the lexer computes while it scans the word.
struct KeywordTable {
  private static let size = 512
  private var hashes = [UInt32](repeating: 0, count: size)
  private var words = [[UInt8]](repeating: [], count: size)
  private var keywords = [Keyword?](repeating: nil, count: size)

  static let shared = KeywordTable()

  private init() {
    for k in Keyword.allCases {
      let bytes = Array(k.rawValue.utf8)
      var h = KeywordTable.seed
      for b in bytes { h = KeywordTable.step(h, b) }
      var slot = Int(h) & (KeywordTable.size - 1)
      while keywords[slot] != nil { slot = (slot + 1) & (KeywordTable.size - 1) }
      hashes[slot] = h
      words[slot] = bytes
      keywords[slot] = k
    }
  }

  static let seed: UInt32 = 2_166_136_261
  @inline(__always) static func step(_ h: UInt32, _ b: UInt8) -> UInt32 { (h ^ UInt32(b)) &* 16_777_619 }

  /// The keyword spelled by `buf[start..<end]` whose hash is `hash`, if any.
  func lookup(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, hash: UInt32) -> Keyword? {
    var slot = Int(hash) & (KeywordTable.size - 1)
    while let k = keywords[slot] {
      if hashes[slot] == hash {
        let w = words[slot]
        if w.count == end - start {
          var same = true
          var i = 0
          while i < w.count {
            if w[i] != buf[start + i] {
              same = false
              break
            }
            i += 1
          }
          if same { return k }
        }
      }
      slot = (slot + 1) & (KeywordTable.size - 1)
    }
    return nil
  }
}
