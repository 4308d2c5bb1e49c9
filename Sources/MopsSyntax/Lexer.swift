/// Turns bytes into tokens on demand (the parser pulls one at a time, as in Lua's
/// llex.c), working on raw bytes so that any input — binary, invalid UTF-8, one
/// 100 MB line — is scanned in linear time and never traps.
///
/// Comments run from `#` to the end of the line. A `#!` first line is skipped. A
/// comment of the form `# mops: …` is remembered as a directive for the parser.
struct Lexer {
  let buf: UnsafeBufferPointer<UInt8>
  var position = 0
  var diagnostics: DiagnosticBag
  /// While true, lexical errors are not reported (the parser is skipping a line that
  /// already has an error).
  var quiet = false
  /// `# mops:` comments, in order: the range of the text after `mops:`.
  var directiveComments: [SourceRange] = []
  /// Offset of the first token that is not a newline; directives after it get a warning.
  var firstStatementOffset: Int?

  private let keywords = KeywordTable.shared

  init(_ buf: UnsafeBufferPointer<UInt8>, diagnosticLimit: Int) {
    self.buf = buf
    self.diagnostics = DiagnosticBag(limit: diagnosticLimit)
    if buf.count >= 2 && buf[0] == UInt8(ascii: "#") && buf[1] == UInt8(ascii: "!") {
      skipToEndOfLine()
    }
  }

  private mutating func error(_ id: DiagnosticID, _ range: SourceRange, _ message: @autoclosure () -> String) {
    if !quiet { diagnostics.report(id, at: range, message()) }
  }

  private mutating func skipToEndOfLine() {
    while position < buf.count && buf[position] != 0x0A { position += 1 }
  }

  @inline(__always) private func byte(_ i: Int) -> UInt8 { i < buf.count ? buf[i] : 0 }

  @inline(__always) static func isIdentifierByte(_ b: UInt8) -> Bool {
    (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F
  }

  /// The next token. After the end of input it keeps returning `.endOfInput`.
  mutating func next() -> Token {
    while true {
      while position < buf.count {
        let b = buf[position]
        if b == 0x20 || b == 0x09 || b == 0x0D { position += 1 } else { break }
      }
      guard position < buf.count else { return Token(.endOfInput, .at(buf.count)) }
      let start = position
      let b = buf[position]
      if b == UInt8(ascii: "#") {
        comment()
        continue
      }
      if b == 0x0A {
        position += 1
        return Token(.newline, SourceRange(start, start + 1))
      }
      if firstStatementOffset == nil { firstStatementOffset = start }
      if b >= 0x30 && b <= 0x39 { return number() }
      if (b >= 0x61 && b <= 0x7A) || b == 0x5F { return word(constant: false) }
      if b >= 0x41 && b <= 0x5A { return word(constant: true) }
      if b == UInt8(ascii: "'") { return character() }
      if b == UInt8(ascii: "\"") { return string() }
      return punctuation()
    }
  }

  /// A comment; `# mops: …` ones are recorded as directives.
  private mutating func comment() {
    let start = position
    skipToEndOfLine()
    var i = start + 1
    while i < position && (buf[i] == 0x20 || buf[i] == 0x09) { i += 1 }
    let tag: [UInt8] = Array("mops:".utf8)
    if position - i >= tag.count {
      var matches = true
      for (k, t) in tag.enumerated() where buf[i + k] != t {
        matches = false
        break
      }
      if matches {
        var end = position
        if end > start && buf[end - 1] == 0x0D { end -= 1 }
        directiveComments.append(SourceRange(i + tag.count, end))
      }
    }
  }

  private mutating func word(constant: Bool) -> Token {
    let start = position
    var hash = SpellingTable.seed
    while position < buf.count {
      let b = buf[position]
      guard Lexer.isIdentifierByte(b) else { break }
      hash = SpellingTable.step(hash, b)
      position += 1
    }
    let range = SourceRange(start, position)
    if !constant, let k = keywords.lookup(buf, start, position, hash: hash) {
      return Token(.keyword(k), range)
    }
    // Identifiers carry their hash, so the parser can intern them without rehashing.
    return Token(constant ? .constant : .identifier, range, value: UInt64(hash))
  }

  /// Decimal (`4096`, `1_000`) or hex (`0x1000`) digits, then an optional size suffix
  /// `K`, `M`, `G` or `T` (powers of 1024).
  private mutating func number() -> Token {
    let start = position
    var value: UInt64 = 0
    var overflow = false
    var sawDigit = false
    let isHex = buf[position] == UInt8(ascii: "0") && (byte(position + 1) | 0x20) == UInt8(ascii: "x")
    if isHex {
      position += 2
      while position < buf.count {
        let b = buf[position]
        let digit: UInt64
        if b >= 0x30 && b <= 0x39 {
          digit = UInt64(b - 0x30)
        } else if (b | 0x20) >= 0x61 && (b | 0x20) <= 0x66 {
          digit = UInt64((b | 0x20) - 0x61 + 10)
        } else if b == 0x5F {
          position += 1
          continue
        } else {
          break
        }
        sawDigit = true
        if value >> 60 != 0 { overflow = true }
        value = value &<< 4 | digit
        position += 1
      }
    } else {
      while position < buf.count {
        let b = buf[position]
        if b >= 0x30 && b <= 0x39 {
          sawDigit = true
          let (m, o1) = value.multipliedReportingOverflow(by: 10)
          let (s, o2) = m.addingReportingOverflow(UInt64(b - 0x30))
          if o1 || o2 { overflow = true }
          value = s
        } else if b != 0x5F {
          break
        }
        position += 1
      }
    }
    if !sawDigit {
      while position < buf.count && Lexer.isIdentifierByte(buf[position]) { position += 1 }
      error(.invalidNumber, SourceRange(start, position), "`0x` needs hex digits after it, as in `0x1000`")
      return Token(.integer, SourceRange(start, position))
    }
    // Size suffix: one letter, then no more word characters.
    if position < buf.count && Lexer.isIdentifierByte(buf[position]) {
      let suffixStart = position
      let s = buf[position]
      let next = byte(position + 1)
      let shift: UInt64?
      switch s {
      case UInt8(ascii: "K"), UInt8(ascii: "k"): shift = 10
      case UInt8(ascii: "M"), UInt8(ascii: "m"): shift = 20
      case UInt8(ascii: "G"), UInt8(ascii: "g"): shift = 30
      case UInt8(ascii: "T"), UInt8(ascii: "t"): shift = 40
      default: shift = nil
      }
      if let shift, !Lexer.isIdentifierByte(next) {
        position += 1
        if s >= 0x61 {
          let upper = String(UnicodeScalar(s - 0x20))
          error(
            .invalidNumber, SourceRange(suffixStart, position),
            "size suffixes are uppercase: write `\(upper)` (K = 1024, M = 1024K, G = 1024M, T = 1024G)")
        }
        if value >> (64 - shift) != 0 { overflow = true }
        value = value &<< shift
      } else {
        while position < buf.count && Lexer.isIdentifierByte(buf[position]) { position += 1 }
        error(
          .invalidNumber, SourceRange(suffixStart, position),
          "a number ends with nothing or a size suffix (K, M, G, T); put a space before a word")
      }
    }
    let range = SourceRange(start, position)
    if overflow {
      error(.numberTooLarge, range, "this number does not fit in 64 bits (the largest is 0xffffffffffffffff)")
      return Token(.integer, range, value: 0)
    }
    return Token(.integer, range, value: value)
  }

  /// One escape after a backslash at `position`; returns the byte, or nil after
  /// reporting an invalid escape.
  private mutating func escape() -> UInt8? {
    let start = position
    let scanned = Lexer.scanEscape(buf, start)
    position = scanned.end
    if let problem = scanned.problem { error(.invalidEscape, SourceRange(start, position), problem) }
    return scanned.value
  }

  /// Decodes the escape whose backslash is at `start`: the byte (nil if invalid), the
  /// offset after it, and what is wrong with it.
  static func scanEscape(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int) -> (value: UInt8?, end: Int, problem: String?)
  {
    var i = start + 1
    guard i < buf.count, buf[i] != 0x0A else {
      return (nil, i, "a backslash must be followed by an escape such as `\\n`")
    }
    let c = buf[i]
    i += 1
    switch c {
    case UInt8(ascii: "n"): return (0x0A, i, nil)
    case UInt8(ascii: "t"): return (0x09, i, nil)
    case UInt8(ascii: "r"): return (0x0D, i, nil)
    case UInt8(ascii: "0"): return (0, i, nil)
    case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): return (c, i, nil)
    case UInt8(ascii: "x"):
      var v: UInt8 = 0
      for _ in 0..<2 {
        let h = i < buf.count ? buf[i] : 0
        let d: UInt8
        if h >= 0x30 && h <= 0x39 {
          d = h - 0x30
        } else if (h | 0x20) >= 0x61 && (h | 0x20) <= 0x66 {
          d = (h | 0x20) - 0x61 + 10
        } else {
          return (nil, i, "`\\x` needs exactly two hex digits, as in `\\x41`")
        }
        v = v << 4 | d
        i += 1
      }
      return (v, i, nil)
    default:
      while i < buf.count && buf[i] & 0xC0 == 0x80 { i += 1 }
      return (nil, i, "unknown escape; use one of \\n \\t \\r \\0 \\\\ \\' \\\" or \\xHH")
    }
  }

  /// `'A'`, `'\n'`, `'\x41'`: one byte.
  private mutating func character() -> Token {
    let start = position
    position += 1
    var value: UInt64 = 0
    var bad = false
    let c = byte(position)
    if position >= buf.count || c == 0x0A || c == UInt8(ascii: "'") {
      bad = true
    } else if c == UInt8(ascii: "\\") {
      if let v = escape() { value = UInt64(v) } else { return finishCharacter(start, reported: true) }
    } else if c >= 0x20 && c < 0x7F {
      value = UInt64(c)
      position += 1
    } else {
      bad = true
    }
    if bad || byte(position) != UInt8(ascii: "'") { return finishCharacter(start, reported: false) }
    position += 1
    return Token(.character, SourceRange(start, position), value: value)
  }

  /// Skips the rest of a malformed character literal up to its closing quote on this
  /// line and reports it once.
  private mutating func finishCharacter(_ start: Int, reported: Bool) -> Token {
    while position < buf.count && buf[position] != 0x0A && buf[position] != UInt8(ascii: "'") { position += 1 }
    if byte(position) == UInt8(ascii: "'") { position += 1 }
    if !reported {
      error(
        .invalidCharacterLiteral, SourceRange(start, position),
        "a character literal holds exactly one printable ASCII byte or an escape, as in 'A' or '\\xff'")
    }
    return Token(.character, SourceRange(start, position), value: 0)
  }

  /// `"…"` on one line; escapes are checked here and decoded by ``decodeString``.
  private mutating func string() -> Token {
    let start = position
    position += 1
    while position < buf.count {
      let c = buf[position]
      if c == UInt8(ascii: "\"") {
        position += 1
        return Token(.string, SourceRange(start, position))
      }
      if c == 0x0A { break }
      if c == UInt8(ascii: "\\") {
        _ = escape()
      } else {
        position += 1
      }
    }
    error(
      .unterminatedString, SourceRange(start, position),
      "this string is not closed; add `\"` before the end of the line")
    return Token(.string, SourceRange(start, position))
  }

  /// The bytes a string token stands for (without quotes, escapes decoded; invalid
  /// escapes are dropped — they were reported when lexed).
  static func decodeString(_ buf: UnsafeBufferPointer<UInt8>, _ range: SourceRange) -> [UInt8] {
    var out: [UInt8] = []
    var i = range.start + 1
    var end = range.end
    if end > i && buf[end - 1] == UInt8(ascii: "\"") { end -= 1 }
    while i < end {
      let c = buf[i]
      if c != UInt8(ascii: "\\") {
        out.append(c)
        i += 1
        continue
      }
      let scanned = scanEscape(buf, i)
      if let v = scanned.value { out.append(v) }
      i = scanned.end
    }
    return out
  }

  private mutating func punctuation() -> Token {
    let start = position
    let c = buf[position]
    let n = byte(position + 1)
    position += 1
    func make(_ kind: TokenKind, extra: Int = 0) -> Token {
      position += extra
      return Token(kind, SourceRange(start, position))
    }
    switch c {
    case UInt8(ascii: "("): return make(.leftParen)
    case UInt8(ascii: ")"): return make(.rightParen)
    case UInt8(ascii: "["): return make(.leftBracket)
    case UInt8(ascii: "]"): return make(.rightBracket)
    case UInt8(ascii: "{"): return make(.leftBrace)
    case UInt8(ascii: "}"): return make(.rightBrace)
    case UInt8(ascii: ","): return make(.comma)
    case UInt8(ascii: ";"): return make(.semicolon)
    case UInt8(ascii: "+"): return make(.plus)
    case UInt8(ascii: "-"): return make(.minus)
    case UInt8(ascii: "*"): return make(.star)
    case UInt8(ascii: "/"): return make(.slash)
    case UInt8(ascii: "="):
      if n == UInt8(ascii: "=") { return make(.equal, extra: 1) }
      if n == UInt8(ascii: ">") { return make(.fatArrow, extra: 1) }
      return make(.assign)
    case UInt8(ascii: "<"):
      if n == UInt8(ascii: "=") { return make(.lessEqual, extra: 1) }
      if n == UInt8(ascii: "-") { return make(.leftArrow, extra: 1) }
      return make(.less)
    case UInt8(ascii: ">"):
      if n == UInt8(ascii: "=") { return make(.greaterEqual, extra: 1) }
      return make(.greater)
    case UInt8(ascii: "!"):
      if n == UInt8(ascii: "=") { return make(.notEqual, extra: 1) }
      error(.unknownOperator, SourceRange(start, position), "write `not` to negate a condition")
      return make(.invalid)
    case UInt8(ascii: "|"):
      if n == UInt8(ascii: "|") {
        position += 1
        error(.unknownOperator, SourceRange(start, position), "write `or` to combine conditions")
        return make(.invalid)
      }
      return make(.pipe)
    case UInt8(ascii: "&"):
      if n == UInt8(ascii: "&") { position += 1 }
      error(.unknownOperator, SourceRange(start, position), "write `and` to combine conditions")
      return make(.invalid)
    case UInt8(ascii: "."):
      if n == UInt8(ascii: ".") {
        let third = byte(position + 1)
        if third == UInt8(ascii: ".") { return make(.closedRange, extra: 2) }
        if third == UInt8(ascii: "<") { return make(.halfOpenRange, extra: 2) }
        position += 1
        error(
          .unknownOperator, SourceRange(start, position),
          "write `...` for an inclusive range or `..<` for a half-open one")
        return make(.invalid)
      }
      error(
        .invalidCharacter, SourceRange(start, position), "unexpected `.`; ranges are written `r[0...3]` or `r[0..<4]`")
      return make(.invalid)
    default:
      // A run of bytes that cannot start a token is reported once.
      while position < buf.count {
        let b = buf[position]
        if b < 0x80 && (b == 0x0A || b == 0x20 || b == 0x09 || b == 0x23 || Lexer.startsToken(b)) { break }
        position += 1
      }
      let range = SourceRange(start, position)
      if c >= 0x80 {
        error(
          .invalidCharacter, range,
          "unexpected non-ASCII text; names and keywords are ASCII (text may only appear in strings and comments)")
      } else if c < 0x20 || c == 0x7F {
        error(.invalidCharacter, range, "unexpected control byte 0x\(String(c, radix: 16)); is this a binary file?")
      } else {
        error(.invalidCharacter, range, "unexpected character `\(String(UnicodeScalar(c)))`")
      }
      return Token(.invalid, range)
    }
  }

  /// Whether ASCII byte `b` can begin a token (so an invalid run stops before it).
  private static func startsToken(_ b: UInt8) -> Bool {
    isIdentifierByte(b) || b == 0x27 || b == 0x22 || b == 0x0D
      || "()[]{},;+-*/=<>!|&.".utf8.contains(b)
  }

  /// Reads the rest of the current line and the following lines verbatim until a line
  /// whose only content is `}`; used for `expect VIEW { … }` blocks. Returns the
  /// trimmed content range of each line, and the range of the closing brace (nil when
  /// the input ended first).
  mutating func rawLines() -> (lines: [SourceRange], close: SourceRange?) {
    var lines: [SourceRange] = []
    while position < buf.count {
      let lineStart = position
      skipToEndOfLine()
      var s = lineStart
      var e = position
      while s < e && (buf[s] == 0x20 || buf[s] == 0x09) { s += 1 }
      while e > s && (buf[e - 1] == 0x20 || buf[e - 1] == 0x09 || buf[e - 1] == 0x0D) { e -= 1 }
      if e - s == 1 && buf[s] == UInt8(ascii: "}") {
        position = e
        return (lines, SourceRange(s, e))
      }
      lines.append(SourceRange(s, e))
      if position < buf.count { position += 1 }
    }
    return (lines, nil)
  }
}
