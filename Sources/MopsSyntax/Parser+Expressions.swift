import MopsABI

extension Parser {
  /// Appends an expression node and returns its ID.
  mutating func add(_ kind: ExprKind, _ range: SourceRange) -> ExprID {
    exprs.append(Expr(kind, range))
    return ExprID(Int32(truncatingIfNeeded: exprs.count - 1))
  }

  /// The source range of node `id`.
  func range(_ id: ExprID) -> SourceRange { exprs[Int(id.index)].range }

  /// Whether `t` can begin an expression (used where operands are optional).
  func startsExpression(_ t: Token) -> Bool {
    switch t.kind {
    case .integer, .character, .string, .identifier, .constant, .leftParen: return true
    case .keyword(let k):
      switch k {
      case .true, .false, .not, .cost: return true
      default: return k.observation != nil
      }
    default: return false
    }
  }

  /// Counts one level of expression nesting; fails past the limit.
  mutating func enterNesting() throws(ParseAbort) {
    guard expressionDepth < ParserLimits.maxExpressionDepth else {
      throw fail(
        .nestingTooDeep,
        "expression too long or nested too deep (more than \(ParserLimits.maxExpressionDepth) operators and brackets); split it with `let`"
      )
    }
    expressionDepth += 1
  }

  /// Binding strength of the binary operators (grammar.md, "Precedence"); `not` sits
  /// between `and` and the comparisons.
  enum Level: Int, Comparable {
    case or = 1
    case and, not, comparison, bitOr, sum, product
    static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
  }

  /// The binary operator at the current token and its level.
  func binaryOperator() -> (BinaryOperator, Level)? {
    switch token.kind {
    case .keyword(.or): return (.or, .or)
    case .keyword(.and): return (.and, .and)
    case .equal: return (.equal, .comparison)
    case .notEqual: return (.notEqual, .comparison)
    case .less: return (.less, .comparison)
    case .lessEqual: return (.lessEqual, .comparison)
    case .greater: return (.greater, .comparison)
    case .greaterEqual: return (.greaterEqual, .comparison)
    case .pipe: return (.bitOr, .bitOr)
    case .plus: return (.add, .sum)
    case .minus: return (.subtract, .sum)
    case .star: return (.multiply, .product)
    case .slash: return (.divide, .product)
    default: return nil
    }
  }

  // expression = and_expr { "or" and_expr }
  mutating func parseExpression() throws(ParseAbort) -> ExprID { try parseBinary(.or) }

  // bit_or = sum { "|" sum }
  mutating func parseBitOr() throws(ParseAbort) -> ExprID { try parseBinary(.bitOr) }

  // sum = product { ( "+" | "-" ) product }
  mutating func parseSum() throws(ParseAbort) -> ExprID { try parseBinary(.sum) }

  // and_expr = not_expr { "and" not_expr } ; not_expr = "not" not_expr | comparison ;
  // comparison = bit_or [ COMPARE_OP bit_or | "has" FLAG_WORD { FLAG_WORD } ] ; product = unit { ( "*" | "/" ) unit }
  //
  /// Every binary level of grammar.md at once, by precedence climbing (as lparser.c's
  /// `subexpr`): parses operators of `minLevel` or tighter, each level left
  /// associative except the comparisons, which do not chain.
  mutating func parseBinary(_ minLevel: Level) throws(ParseAbort) -> ExprID {
    // Each operator deepens the (left-leaning) tree by one, so it counts as nesting:
    // a million-term `1+1+…` is reported instead of overflowing the checker's stack.
    let depthOnEntry = expressionDepth
    defer { expressionDepth = depthOnEntry }
    var lhs: ExprID
    if minLevel <= .not && isKeyword(.not) {
      let start = token.range
      advance()
      try operandFollows("not")
      try enterNesting()
      defer { expressionDepth -= 1 }
      let operand = try parseBinary(.not)
      lhs = add(.not(operand), start.union(range(operand)))
    } else {
      lhs = try parseUnit()
    }
    var comparedAlready = false
    while true {
      if minLevel <= .comparison && isKeyword(.has) {
        if comparedAlready { throw fail(.expectedToken, "comparisons do not chain; combine them with `and`") }
        lhs = try parseHas(lhs)
        comparedAlready = true
        continue
      }
      if token.kind == .assign && minLevel <= .comparison {
        throw fail(.expectedToken, "`=` binds a name; to compare write `==`")
      }
      guard let (op, level) = binaryOperator(), level >= minLevel else { return lhs }
      if level == .comparison {
        if comparedAlready { throw fail(.expectedToken, "comparisons do not chain; combine them with `and`") }
        comparedAlready = true
      } else if level < .comparison {
        comparedAlready = false
      }
      try enterNesting()
      advance()
      try operandFollows(op.rawValue)
      // Left associative: the right operand binds strictly tighter than `op`.
      let rhs: ExprID
      switch level {
      case .product: rhs = try parseUnit()
      case .comparison: rhs = try parseBinary(.bitOr)
      case .or: rhs = try parseBinary(.and)
      case .and: rhs = try parseBinary(.not)
      case .not: rhs = try parseBinary(.comparison)
      case .bitOr: rhs = try parseBinary(.sum)
      case .sum: rhs = try parseBinary(.product)
      }
      lhs = add(.binary(op, lhs, rhs), range(lhs).union(range(rhs)))
    }
  }

  /// `… has dc wf`: the words after `has` (unknown ones are kept for the checker).
  mutating func parseHas(_ lhs: ExprID) throws(ParseAbort) -> ExprID {
    advance()
    let first = flagWords.count
    while token.kind == .identifier {
      let word = text(token.range)
      let flag = VMFlags.mnemonics.first(where: { $0.1 == word })?.0
      let symbol = symbols.intern(buf, token.range, hash: UInt32(truncatingIfNeeded: token.value))
      flagWords.append(FlagWord(range: token.range, flag: flag, symbol: Int32(symbol)))
      advance()
    }
    guard flagWords.count > first else {
      throw fail(
        .expectedToken, "expected VMA flag mnemonics after `has`, as in `flags r has dc wf`; found \(describe(token))")
    }
    let slice = FlagWordSlice(start: Int32(first), count: Int32(flagWords.count - first))
    return add(.has(lhs, words: slice), range(lhs).union(flagWords[flagWords.count - 1].range))
  }

  // unit = postfix [ "pages" | "page" ]
  mutating func parseUnit() throws(ParseAbort) -> ExprID {
    let base = try parsePostfix()
    guard isKeyword(.pages) || isKeyword(.page) else { return base }
    let r = range(base).union(token.range)
    advance()
    return add(.pages(base), r)
  }

  // postfix = primary { "[" index "]" }
  // index = expression [ ( "..." | "..<" ) expression ]
  mutating func parsePostfix() throws(ParseAbort) -> ExprID {
    var base = try parsePrimary()
    while token.kind == .leftBracket {
      try enterNesting()
      defer { expressionDepth -= 1 }
      bracketDepth += 1
      advance()
      let lower = try parseExpression()
      var upper: ExprID?
      var inclusive = false
      if token.kind == .closedRange || token.kind == .halfOpenRange {
        inclusive = token.kind == .closedRange
        advance()
        upper = try parseExpression()
      }
      bracketDepth -= 1
      guard token.kind == .rightBracket else {
        bracketDepth += 1
        throw fail(.expectedToken, "expected `]`, `...` or `..<` in the page index, found \(describe(token))")
      }
      let r = range(base).union(token.range)
      advance()
      if let upper {
        base = add(.pageRange(base, lower: lower, upper: upper, inclusive: inclusive), r)
      } else {
        base = add(.page(base, index: lower), r)
      }
    }
    return base
  }

  // primary = INTEGER | CHARACTER | STRING | "true" | "false" | NAME | CONSTANT
  //         | "(" expression ")" | observation | "cost" COUNTER
  mutating func parsePrimary() throws(ParseAbort) -> ExprID {
    let t = token
    switch t.kind {
    case .integer, .character:
      advance()
      return add(.integer(t.value), t.range)
    case .string:
      advance()
      strings.append(Lexer.decodeString(buf, t.range))
      return add(.string(Int32(strings.count - 1)), t.range)
    case .identifier:
      advance()
      return add(.name(makeName(t)), t.range)
    case .constant:
      advance()
      let hash = UInt32(truncatingIfNeeded: t.value)
      let constant =
        KernelNames.constant(buf, t.range, hash: hash)
        ?? .unknown(symbol: Int32(symbols.intern(buf, t.range, hash: hash)))
      return add(.constant(constant), t.range)
    case .keyword(.true), .keyword(.false):
      advance()
      return add(.boolean(t.kind == .keyword(.true)), t.range)
    case .leftParen:
      try enterNesting()
      defer { expressionDepth -= 1 }
      bracketDepth += 1
      advance()
      let inner = try parseExpression()
      bracketDepth -= 1
      guard token.kind == .rightParen else {
        bracketDepth += 1
        throw fail(.expectedToken, "expected `)`, found \(describe(token))")
      }
      exprs[Int(inner.index)].range = t.range.union(token.range)
      advance()
      return inner
    case .keyword(.cost):
      advance()
      let word = token.kind == .identifier ? quoted(token.range) : ""
      guard let counter = KernelNames.costCounters.firstIndex(of: word) else {
        throw fail(
          .unknownCounter,
          "expected a cost counter after `cost`" + KernelNames.didYouMean(word, among: KernelNames.costCounters)
            + " (counters: " + KernelNames.costCounters.joined(separator: ", ") + ")")
      }
      let r = t.range.union(token.range)
      advance()
      return add(.cost(Int32(counter)), r)
    case .keyword(let k):
      if let observation = k.observation { return try parseObservation(observation) }
      throw fail(.expectedExpression, "expected a value, found the reserved word `\(k.rawValue)`")
    case .newline, .endOfInput:
      throw fail(.expectedExpression, "expected a value before \(describe(t))")
    default:
      throw fail(.expectedExpression, "expected a value, found \(describe(t))")
    }
  }

  // observation = OBSERVATION [ sum ] [ "in" NAME ]
  mutating func parseObservation(_ observation: Observation) throws(ParseAbort) -> ExprID {
    let start = token.range
    advance()
    var operand: ExprID?
    if observation.takesOperand {
      guard startsExpression(token) else {
        throw fail(
          .expectedExpression,
          "`\(observation.rawValue)` needs an address or range after it, as in `\(observation.rawValue) r[0]`; found \(describe(token))"
        )
      }
      try enterNesting()
      defer { expressionDepth -= 1 }
      operand = try parseSum()
    }
    var process: Name?
    if observation.dependsOnProcess && isKeyword(.in) {
      advance()
      process = try parseNameReference("a process name after `in`")
    }
    return add(.observe(observation, operand, process: process), SourceRange(start.start, previousEnd))
  }
}
