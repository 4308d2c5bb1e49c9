import MopsABI

/// The result of parsing one source file.
public struct ParsedScript: Sendable {
  public var script: Script
  public var diagnostics: DiagnosticBag
  /// True when the only problem is that the input ended too early (an open `{`, an
  /// operator at the end, an unfinished `expect` block): a REPL should read another
  /// line and parse again instead of reporting.
  public var isIncomplete: Bool
}

/// Limits that keep any input from exhausting the stack.
public enum ParserLimits {
  /// `on`/`for` blocks nested deeper than this are reported and skipped.
  public static let maxBlockDepth = 64
  /// Expressions deeper than this (counting binary operators, parentheses, `not`,
  /// subscripts and observation operands) are reported.
  public static let maxExpressionDepth = 128
  /// Diagnostics kept per phase; more are counted ("N more diagnostics not shown").
  public static let diagnosticLimit = 100
}

/// Thrown inside the parser to abandon the current statement; the diagnostic has
/// already been reported. The statement loop catches it and skips to the end of line.
struct ParseAbort: Error {}

/// A recursive-descent parser in the style of Lua's lparser.c: one function per
/// production of grammar.md, whose first comment line is that production. It
/// recovers at the end of each line, so one run reports every independent error.
struct Parser {
  var lexer: Lexer
  var token: Token
  var lookahead: Token?
  /// End offset of the last consumed token.
  var previousEnd = 0
  var diagnostics: DiagnosticBag
  var nameSlots = 0
  var symbols = SymbolTable()
  var exprs: [Expr] = []
  var strings: [[UInt8]] = []
  var flagWords: [FlagWord] = []
  var blockDepth = 0
  var expressionDepth = 0
  /// Open `(` and `[` (newlines inside them are skipped).
  var bracketDepth = 0
  var incomplete = false
  /// The name a binding statement is about to bind; kept if the statement fails.
  var pendingBinding: Name?

  var buf: UnsafeBufferPointer<UInt8> { lexer.buf }

  init(_ buf: UnsafeBufferPointer<UInt8>) {
    lexer = Lexer(buf, diagnosticLimit: ParserLimits.diagnosticLimit)
    diagnostics = DiagnosticBag(limit: ParserLimits.diagnosticLimit)
    token = Token(.endOfInput, .at(0))
    token = lexer.next()
    exprs.reserveCapacity(buf.count / 10)
  }

  // MARK: Token plumbing

  mutating func advance() {
    previousEnd = token.range.end
    if let next = lookahead {
      token = next
      lookahead = nil
    } else {
      token = lexer.next()
    }
    if bracketDepth > 0 {
      while token.kind == .newline {
        token = lookahead ?? lexer.next()
        lookahead = nil
      }
    }
  }

  mutating func peek() -> Token {
    if let t = lookahead { return t }
    let t = lexer.next()
    lookahead = t
    return t
  }

  func text(_ range: SourceRange) -> String {
    String(decoding: UnsafeBufferPointer(rebasing: buf[range.start..<range.end]), as: UTF8.self)
  }

  /// The text of `range` as a message quotes it (abbreviated past 40 characters).
  func quoted(_ range: SourceRange) -> String {
    abbreviated(text(SourceRange(range.start, Swift.min(range.end, range.start + 200))))
  }

  /// Whether the current token is the identifier `word` (an option word).
  func isWord(_ word: StaticString) -> Bool {
    guard token.kind == .identifier, token.range.length == word.utf8CodeUnitCount else { return false }
    let w = word.utf8Start
    for i in 0..<token.range.length where buf[token.range.start + i] != w[i] { return false }
    return true
  }

  func isKeyword(_ k: Keyword) -> Bool { token.kind == .keyword(k) }

  /// The current token as the error message names it.
  func describe(_ t: Token) -> String {
    switch t.kind {
    case .newline: return "the end of the line"
    case .endOfInput: return "the end of the input"
    case .invalid: return "invalid input"
    case .string: return "a string"
    case .integer: return "the number `\(text(t.range))`"
    default:
      return "`\(quoted(t.range))`"
    }
  }

  /// Reports an error at the current token and abandons the statement. At the end of
  /// input inside an open block or bracket this is the "incomplete input" error.
  mutating func fail(_ id: DiagnosticID, _ message: String, at range: SourceRange? = nil) -> ParseAbort {
    if token.kind == .invalid && range == nil { return ParseAbort() }
    if token.kind == .endOfInput && (blockDepth > 0 || bracketDepth > 0) && range == nil {
      incomplete = true
      diagnostics.report(
        .unexpectedEndOfInput, at: token.range,
        "unexpected end of input: " + (bracketDepth > 0 ? "a `(` or `[` is not closed" : "a `{` block is not closed"))
      return ParseAbort()
    }
    diagnostics.report(id, at: range ?? token.range, message)
    return ParseAbort()
  }

  /// Consumes a token of `kind` or fails with "expected WHAT".
  mutating func expect(_ kind: TokenKind, _ what: String) throws(ParseAbort) {
    guard token.kind == kind else { throw fail(.expectedToken, "expected \(what), found \(describe(token))") }
    advance()
  }

  /// Skips newlines after an operator (the expression continues on the next line);
  /// the end of input here is the REPL's "incomplete" signal.
  mutating func operandFollows(_ op: String) throws(ParseAbort) {
    while token.kind == .newline { advance() }
    if token.kind == .endOfInput {
      incomplete = true
      diagnostics.report(
        .unexpectedEndOfInput, at: token.range,
        "unexpected end of input after `\(op)`; the expression continues on the next line")
      throw ParseAbort()
    }
  }

  mutating func makeName(_ t: Token) -> Name {
    defer { nameSlots += 1 }
    let symbol = symbols.intern(buf, t.range, hash: UInt32(truncatingIfNeeded: t.value))
    return Name(t.range, slot: Int32(truncatingIfNeeded: nameSlots), symbol: Int32(symbol))
  }

  /// A name that refers to something bound (a region, process, uffd or value).
  mutating func parseNameReference(_ what: String) throws(ParseAbort) -> Name {
    guard token.kind == .identifier else {
      if case .keyword(let k) = token.kind {
        throw fail(.expectedToken, "expected \(what), found the reserved word `\(k.rawValue)`")
      }
      throw fail(.expectedToken, "expected \(what), found \(describe(token))")
    }
    let name = makeName(token)
    advance()
    return name
  }

  /// A name being bound: not reserved, not capitalized.
  mutating func parseBindingName() throws(ParseAbort) -> Name {
    switch token.kind {
    case .identifier:
      let name = makeName(token)
      advance()
      return name
    case .keyword(let k):
      throw fail(
        .reservedName,
        "`\(k.rawValue)` is a reserved word and cannot be a name; choose another name, such as `\(k.rawValue)1`")
    case .constant:
      throw fail(
        .capitalizedName,
        "names start with a lowercase letter or `_` (capitalized words are kernel constants such as EBUSY); write `\(quoted(token.range).lowercased())`"
      )
    default:
      throw fail(.expectedToken, "expected a name, found \(describe(token))")
    }
  }

  // MARK: Script and statement lists

  // script = [ "#!" LINE ] statement_list END
  mutating func parseScript() -> Script {
    let statements = parseStatementList(inBlock: false)
    var directives: [Directive] = []
    let firstStatement = lexer.firstStatementOffset
    for range in lexer.directiveComments {
      var bag = DiagnosticBag(limit: ParserLimits.diagnosticLimit)
      if let d = DirectiveParser.parse(buf, range, &bag) {
        directives.append(d)
        if let first = firstStatement, range.start > first {
          bag.report(
            .lateDirective, .warning, at: range,
            "directives belong before the first statement; this one still applies to the whole file")
        }
      }
      diagnostics.merge(bag)
    }
    return Script(
      statements: statements, directives: directives, exprs: exprs, strings: strings, flagWords: flagWords,
      symbolTable: symbols, nameSlotCount: nameSlots)
  }

  // statement_list = { [ statement ] ( NEWLINE | ";" ) } [ statement ]
  mutating func parseStatementList(inBlock: Bool) -> [Statement] {
    var list: [Statement] = []
    if !inBlock { list.reserveCapacity(buf.count / 32) }
    while true {
      switch token.kind {
      case .newline, .semicolon:
        advance()
      case .endOfInput:
        return list
      case .rightBrace:
        if inBlock { return list }
        diagnostics.report(.unbalancedBrace, at: token.range, "this `}` closes no block; remove it")
        advance()
      default:
        list.append(parseStatementRecovering())
      }
    }
  }

  /// One statement; on error, skips to the end of the line (entering a block the
  /// line opens, so the errors inside it are still found).
  mutating func parseStatementRecovering() -> Statement {
    let start = token.range.start
    pendingBinding = nil
    expressionDepth = 0
    bracketDepth = 0
    do throws(ParseAbort) {
      let statement = try parseStatement()
      try expectEndOfStatement()
      return statement
    } catch {
      let binding = pendingBinding
      let endOffset = Swift.max(start, previousEnd)
      if synchronize() {
        let open = SourceRange(previousEnd - 1, previousEnd)
        _ = parseBlockContents(open: open)
      }
      return Statement(.invalid(binding: binding), SourceRange(start, endOffset))
    }
  }

  /// Skips the rest of a broken statement: up to a newline, `;`, the `}` of the
  /// enclosing block, or the end of input. Returns true if the last token skipped
  /// was a `{` that opens a block on the following lines.
  mutating func synchronize() -> Bool {
    lexer.quiet = true
    defer { lexer.quiet = false }
    bracketDepth = 0
    var lastWasOpenBrace = false
    while true {
      switch token.kind {
      case .newline, .semicolon, .endOfInput:
        return lastWasOpenBrace && token.kind == .newline
      case .rightBrace where blockDepth > 0:
        return false
      default:
        lastWasOpenBrace = token.kind == .leftBrace
        advance()
      }
    }
  }

  /// A statement ends at a newline, `;`, `}` or the end of input.
  mutating func expectEndOfStatement() throws(ParseAbort) {
    switch token.kind {
    case .newline, .semicolon, .endOfInput, .rightBrace: return
    default:
      throw fail(
        .extraInput,
        "unexpected \(describe(token)) after the end of the statement; start a new line for a new statement")
    }
  }

  // block = "{" statement_list "}"
  mutating func parseBlock() throws(ParseAbort) -> [Statement] {
    guard token.kind == .leftBrace else {
      throw fail(.expectedToken, "expected `{` to open a block, found \(describe(token))")
    }
    let open = token.range
    advance()
    return parseBlockContents(open: open)
  }

  /// The statements after a `{` up to its `}` (consumed). Too deep a block is
  /// reported and skipped without recursion.
  mutating func parseBlockContents(open: SourceRange) -> [Statement] {
    if blockDepth >= ParserLimits.maxBlockDepth {
      diagnostics.report(
        .nestingTooDeep, at: open,
        "blocks are nested more than \(ParserLimits.maxBlockDepth) deep; flatten the script")
      skipBalancedBlock()
      return []
    }
    blockDepth += 1
    let body = parseStatementList(inBlock: true)
    blockDepth -= 1
    if token.kind == .rightBrace {
      advance()
    } else {
      incomplete = true
      diagnostics.report(
        .unexpectedEndOfInput, at: token.range,
        "unexpected end of input: a `{` is not closed; add `}`",
        notes: [DiagnosticNote("the block opens here", at: open)])
    }
    return body
  }

  /// Skips to the `}` matching an already consumed `{`, counting braces iteratively.
  mutating func skipBalancedBlock() {
    lexer.quiet = true
    defer { lexer.quiet = false }
    var depth = 1
    while token.kind != .endOfInput {
      if token.kind == .leftBrace { depth += 1 }
      if token.kind == .rightBrace {
        depth -= 1
        if depth == 0 {
          advance()
          return
        }
      }
      advance()
    }
  }
}

/// The entry points of the syntax layer.
public enum MopsParser {
  /// Parses `file` into a syntax tree and its diagnostics.
  public static func parse(_ file: SourceFile) -> ParsedScript {
    file.bytes.withUnsafeBufferPointer { buf in
      var parser = Parser(buf)
      let script = parser.parseScript()
      var diagnostics = parser.lexer.diagnostics
      diagnostics.merge(parser.diagnostics)
      let onlyEOF =
        diagnostics.suppressed == 0
        && diagnostics.diagnostics.allSatisfy { $0.isUnexpectedEndOfInput || $0.severity != .error }
      return ParsedScript(script: script, diagnostics: diagnostics, isIncomplete: parser.incomplete && onlyEOF)
    }
  }
}
