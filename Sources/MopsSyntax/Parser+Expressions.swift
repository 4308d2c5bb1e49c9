import MopsABI

extension Parser {
  /// Whether `t` can begin an expression (used where operands are optional).
  func startsExpression(_ t: Token) -> Bool {
    switch t.kind {
    case .integer, .character, .string, .identifier, .constant, .leftParen: return true
    case .keyword(let k):
      switch k {
      case .true, .false, .not, .cost: return true
      default: return Observation(rawValue: k.rawValue) != nil
      }
    default: return false
    }
  }

  /// Counts one level of expression nesting; fails past the limit.
  mutating func enterNesting() throws(ParseAbort) {
    guard expressionDepth < ParserLimits.maxExpressionDepth else {
      throw fail(.nestingTooDeep, "expression nested more than \(ParserLimits.maxExpressionDepth) deep; split it with `let`")
    }
    expressionDepth += 1
  }

  // expression = and_expr { "or" and_expr }
  mutating func parseExpression() throws(ParseAbort) -> Expr {
    var lhs = try parseAnd()
    while isKeyword(.or) {
      advance()
      try operandFollows("or")
      let rhs = try parseAnd()
      lhs = Expr(.binary(.or, lhs, rhs), lhs.range.union(rhs.range))
    }
    return lhs
  }

  // and_expr = not_expr { "and" not_expr }
  mutating func parseAnd() throws(ParseAbort) -> Expr {
    var lhs = try parseNot()
    while isKeyword(.and) {
      advance()
      try operandFollows("and")
      let rhs = try parseNot()
      lhs = Expr(.binary(.and, lhs, rhs), lhs.range.union(rhs.range))
    }
    return lhs
  }

  // not_expr = "not" not_expr | comparison
  mutating func parseNot() throws(ParseAbort) -> Expr {
    guard isKeyword(.not) else { return try parseComparison() }
    let start = token.range
    advance()
    try operandFollows("not")
    try enterNesting()
    defer { expressionDepth -= 1 }
    let operand = try parseNot()
    return Expr(.not(operand), start.union(operand.range))
  }

  // comparison = bit_or [ ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) bit_or | "has" FLAG_WORD { FLAG_WORD } ]
  mutating func parseComparison() throws(ParseAbort) -> Expr {
    let lhs = try parseBitOr()
    let op: BinaryOperator
    switch token.kind {
    case .equal: op = .equal
    case .notEqual: op = .notEqual
    case .less: op = .less
    case .lessEqual: op = .lessEqual
    case .greater: op = .greater
    case .greaterEqual: op = .greaterEqual
    case .assign:
      throw fail(.expectedToken, "`=` binds a name; to compare write `==`")
    case .keyword(.has):
      advance()
      var words: [FlagWord] = []
      while token.kind == .identifier {
        let word = text(token.range)
        let flag = VMFlags.mnemonics.first(where: { $0.1 == word })?.0
        words.append(FlagWord(text: word, range: token.range, flag: flag))
        advance()
      }
      guard let last = words.last else {
        throw fail(.expectedToken, "expected VMA flag mnemonics after `has`, as in `flags r has dc wf`; found \(describe(token))")
      }
      return Expr(.has(lhs, words), lhs.range.union(last.range))
    default:
      return lhs
    }
    let opText = text(token.range)
    advance()
    try operandFollows(opText)
    let rhs = try parseBitOr()
    switch token.kind {
    case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual:
      throw fail(.expectedToken, "comparisons do not chain; combine them with `and`")
    default: break
    }
    return Expr(.binary(op, lhs, rhs), lhs.range.union(rhs.range))
  }

  // bit_or = sum { "|" sum }
  mutating func parseBitOr() throws(ParseAbort) -> Expr {
    var lhs = try parseSum()
    while token.kind == .pipe {
      advance()
      try operandFollows("|")
      let rhs = try parseSum()
      lhs = Expr(.binary(.bitOr, lhs, rhs), lhs.range.union(rhs.range))
    }
    return lhs
  }

  // sum = product { ( "+" | "-" ) product }
  mutating func parseSum() throws(ParseAbort) -> Expr {
    var lhs = try parseProduct()
    while token.kind == .plus || token.kind == .minus {
      let op: BinaryOperator = token.kind == .plus ? .add : .subtract
      advance()
      try operandFollows(op.rawValue)
      let rhs = try parseProduct()
      lhs = Expr(.binary(op, lhs, rhs), lhs.range.union(rhs.range))
    }
    return lhs
  }

  // product = unit { ( "*" | "/" ) unit }
  mutating func parseProduct() throws(ParseAbort) -> Expr {
    var lhs = try parseUnit()
    while token.kind == .star || token.kind == .slash {
      let op: BinaryOperator = token.kind == .star ? .multiply : .divide
      advance()
      try operandFollows(op.rawValue)
      let rhs = try parseUnit()
      lhs = Expr(.binary(op, lhs, rhs), lhs.range.union(rhs.range))
    }
    return lhs
  }

  // unit = postfix [ "pages" | "page" ]
  mutating func parseUnit() throws(ParseAbort) -> Expr {
    let base = try parsePostfix()
    guard isKeyword(.pages) || isKeyword(.page) else { return base }
    let range = base.range.union(token.range)
    advance()
    return Expr(.pages(base), range)
  }

  // postfix = primary { "[" index "]" }
  // index = expression [ ( "..." | "..<" ) expression ]
  mutating func parsePostfix() throws(ParseAbort) -> Expr {
    var base = try parsePrimary()
    while token.kind == .leftBracket {
      try enterNesting()
      defer { expressionDepth -= 1 }
      bracketDepth += 1
      advance()
      let lower = try parseExpression()
      var upper: Expr?
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
      let range = base.range.union(token.range)
      advance()
      if let upper {
        base = Expr(.pageRange(base, lower: lower, upper: upper, inclusive: inclusive), range)
      } else {
        base = Expr(.page(base, index: lower), range)
      }
    }
    return base
  }

  // primary = INTEGER | CHARACTER | STRING | "true" | "false" | NAME | CONSTANT
  //         | "(" expression ")" | observation | "cost" COUNTER
  mutating func parsePrimary() throws(ParseAbort) -> Expr {
    let t = token
    switch t.kind {
    case .integer, .character:
      advance()
      return Expr(.integer(t.value), t.range)
    case .string:
      advance()
      return Expr(.string(Lexer.decodeString(buf, t.range)), t.range)
    case .identifier:
      advance()
      return Expr(.name(makeName(t)), t.range)
    case .constant:
      advance()
      return Expr(.constant(KernelNames.constant(text(t.range))), t.range)
    case .keyword(.true), .keyword(.false):
      advance()
      return Expr(.boolean(t.kind == .keyword(.true)), t.range)
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
      let range = t.range.union(token.range)
      advance()
      return Expr(inner.kind, range)
    case .keyword(.cost):
      advance()
      guard token.kind == .identifier, KernelNames.costCounters.contains(text(token.range)) else {
        let word = token.kind == .identifier ? text(token.range) : ""
        throw fail(
          .unknownCounter,
          "expected a cost counter after `cost`" + KernelNames.didYouMean(word, among: KernelNames.costCounters)
            + " (counters: " + KernelNames.costCounters.joined(separator: ", ") + ")")
      }
      let range = t.range.union(token.range)
      let counter = text(token.range)
      advance()
      return Expr(.cost(counter), range)
    case .keyword(let k):
      if let observation = Observation(rawValue: k.rawValue) { return try parseObservation(observation) }
      throw fail(.expectedExpression, "expected a value, found the reserved word `\(k.rawValue)`")
    case .newline, .endOfInput:
      throw fail(.expectedExpression, "expected a value before \(describe(t))")
    default:
      throw fail(.expectedExpression, "expected a value, found \(describe(t))")
    }
  }

  // observation = OBSERVATION [ sum ] [ "in" NAME ]
  mutating func parseObservation(_ observation: Observation) throws(ParseAbort) -> Expr {
    let start = token.range
    advance()
    var operand: Expr?
    if observation.takesOperand {
      guard startsExpression(token) else {
        throw fail(.expectedExpression, "`\(observation.rawValue)` needs an address or range after it, as in `\(observation.rawValue) r[0]`; found \(describe(token))")
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
    let end = previousEnd
    return Expr(.observe(observation, operand, process: process), SourceRange(start.start, end))
  }
}
