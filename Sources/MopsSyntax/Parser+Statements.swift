import MopsABI

/// Option words per statement, in the order grammar.md lists them.
enum OptionTables {
  static let mmap: [(StaticString, MapFlags)] = [
    ("shared", .shared), ("private", .private), ("shared_validate", .sharedValidate),
    ("droppable", .droppable), ("fixed", .fixed), ("noreplace", .fixedNoreplace), ("locked", .locked),
    ("noreserve", .noreserve), ("populate", .populate), ("nonblock", .nonblock), ("stack", .stack),
    ("growsdown", .growsdown), ("hugetlb", .hugetlb), ("sync", .sync),
  ]
  static let mremap: [(StaticString, MremapFlags)] = [
    ("maymove", .maymove), ("fixed", .fixed), ("dontunmap", .dontunmap),
  ]
  static let userfaultfd: [(StaticString, UserfaultfdFlags)] = [
    ("nonblock", .nonblock), ("cloexec", .cloexec), ("user_mode_only", .userModeOnly),
  ]
  static let features: [(StaticString, UffdFeatures)] = [
    ("pagefault_flag_wp", .pagefaultFlagWP), ("event_fork", .eventFork), ("event_remap", .eventRemap),
    ("event_remove", .eventRemove), ("missing_hugetlbfs", .missingHugetlbfs), ("missing_shmem", .missingShmem),
    ("event_unmap", .eventUnmap), ("sigbus", .sigbus), ("thread_id", .threadID),
    ("minor_hugetlbfs", .minorHugetlbfs), ("minor_shmem", .minorShmem), ("exact_address", .exactAddress),
    ("wp_hugetlbfs_shmem", .wpHugetlbfsShmem), ("wp_unpopulated", .wpUnpopulated), ("poison", .poison),
    ("wp_async", .wpAsync), ("move", .move),
  ]
  static let register: [(StaticString, UffdRegisterMode)] = [("missing", .missing), ("wp", .wp), ("minor", .minor)]
  static let move: [(StaticString, UffdioMoveMode)] = [("allow_src_holes", .allowSrcHoles), ("dontwake", .dontwake)]
  static let copy: [(StaticString, UffdioCopyMode)] = [("dontwake", .dontwake), ("wp", .wp)]
  static let zeropage: [(StaticString, UffdioCopyMode)] = [("dontwake", .dontwake)]
  static let remapAnonPages: [(StaticString, RemapAnonPagesFlags)] = [("allow_src_holes", .allowSrcHoles)]

  static func names<F>(_ table: [(StaticString, F)]) -> [String] { table.map { "\($0.0)" } }
}

extension Parser {
  // statement = binding | mmap_statement | munmap_statement | mprotect_statement
  //           | madvise_statement | mremap_statement | touch_statement | write_statement
  //           | read_statement | fork_statement | exit_statement | on_statement
  //           | for_statement | userfaultfd_statement | api_statement | register_statement
  //           | unregister_statement | close_statement | remap_statement
  //           | remap_anon_pages_statement | copy_statement | zeropage_statement
  //           | pin_statement | assert_statement | print_statement | show_statement
  //           | expect_statement ; each operation may end in an outcome
  mutating func parseStatement() throws(ParseAbort) -> Statement {
    let start = token.range.start
    let kind: StatementKind
    switch token.kind {
    case .keyword(let k):
      if peek().kind == .assign && k != .let {
        throw fail(
          .reservedName,
          "`\(k.rawValue)` is a reserved word and cannot be a name; choose another name, such as `\(k.rawValue)1`")
      }
      switch k {
      case .let: kind = try parseBinding()
      case .mmap: kind = try parseMmap(binding: nil)
      case .munmap:
        advance()
        kind = .munmap(target: try parseTarget())
      case .mprotect: kind = try parseMprotect()
      case .madvise: kind = try parseMadvise()
      case .mremap: kind = try parseMremap(binding: nil)
      case .touch: kind = try parseTouch()
      case .write: kind = try parseWrite()
      case .read:
        advance()
        kind = .read(target: try parseTarget())
      case .fork:
        advance()
        kind = .fork(binding: nil)
      case .exit: kind = try parseExit()
      case .on: kind = try parseOn()
      case .for: kind = try parseFor()
      case .userfaultfd: kind = try parseUserfaultfd(binding: nil)
      case .api: kind = try parseApi()
      case .register: kind = try parseRegister()
      case .unregister:
        advance()
        let uffd = try parseNameReference("a userfaultfd name")
        kind = .unregister(uffd: uffd, target: try parseTarget())
      case .close:
        advance()
        kind = .close(uffd: try parseNameReference("a userfaultfd name"))
      case .remap: kind = try parseRemap()
      case .remapAnonPages: kind = try parseRemapAnonPages()
      case .copy: kind = try parseCopy()
      case .zeropage: kind = try parseZeropage()
      case .pin:
        advance()
        kind = .pin(target: try parseTarget())
      case .unpin:
        advance()
        kind = .unpin(target: try parseTarget())
      case .assert: kind = try parseAssert()
      case .print: kind = try parsePrint()
      case .show:
        advance()
        kind = .show(try parseView())
      case .expect: kind = try parseExpect()
      default:
        throw fail(
          .expectedStatement,
          "`\(k.rawValue)` cannot start a statement; to check a value write `assert \(k.rawValue) …`, to see it `print \(k.rawValue) …`"
        )
      }
    case .identifier:
      if peek().kind == .assign {
        kind = try parseBinding()
      } else {
        let word = quoted(token.range)
        let statements = Keyword.statementKeywords.map(\.rawValue)
        throw fail(
          .expectedStatement,
          "`\(word)` is not a statement" + KernelNames.didYouMean(word, among: statements)
            + "; to bind a name write `\(word) = …`")
      }
    case .constant:
      if peek().kind == .assign { _ = try parseBindingName() }
      throw fail(.expectedStatement, "expected a statement, found the constant \(describe(token))")
    default:
      throw fail(.expectedStatement, "expected a statement, found \(describe(token))")
    }
    var statement = Statement(kind, SourceRange(start, previousEnd))
    if token.kind == .fatArrow {
      statement.outcome = try parseOutcome()
      statement.range.end = previousEnd
    }
    return statement
  }

  // binding = [ "let" ] NAME "=" ( mmap_statement | mremap_statement | "fork" | userfaultfd_statement | target )
  mutating func parseBinding() throws(ParseAbort) -> StatementKind {
    if isKeyword(.let) { advance() }
    let name = try parseBindingName()
    pendingBinding = name
    try expect(.assign, "`=` after the name")
    switch token.kind {
    case .keyword(.mmap): return try parseMmap(binding: name)
    case .keyword(.mremap): return try parseMremap(binding: name)
    case .keyword(.fork):
      advance()
      return .fork(binding: name)
    case .keyword(.userfaultfd): return try parseUserfaultfd(binding: name)
    case .keyword(let k) where k.observation == nil && Keyword.statementKeywords.contains(k):
      throw fail(
        .noValue,
        "`\(k.rawValue)` gives no value to bind; bind `mmap`, `mremap`, `fork`, `userfaultfd` or an expression, "
          + "and read a call's return value with `result` on the next line")
    default:
      return .capture(name, try parseTarget())
    }
  }

  // target = expression [ "len" sum ]
  mutating func parseTarget() throws(ParseAbort) -> ExprID {
    let base = try parseExpression()
    guard isKeyword(.len) else { return base }
    advance()
    try operandFollows("len")
    let length = try parseSum()
    return add(.span(base, length: length), range(base).union(range(length)))
  }

  /// Matches the current identifier against an option table; consumes it on a match.
  mutating func optionWord<F: OptionSet>(_ table: [(StaticString, F)], into options: inout Options<F>) -> Bool {
    guard token.kind == .identifier, let entry = table.first(where: { isWord($0.0) }) else { return false }
    if options.words.isSuperset(of: entry.1) && !entry.1.isEmpty {
      diagnostics.report(.duplicateOption, .warning, at: token.range, "`\(entry.0)` is given twice; once is enough")
    }
    options.words.formUnion(entry.1)
    if options.firstWordRange == nil { options.firstWordRange = token.range }
    advance()
    return true
  }

  /// Reports an identifier in option position that the statement does not take.
  mutating func unknownOption(_ statement: String, _ candidates: [String]) -> ParseAbort {
    let word = quoted(token.range)
    return fail(
      .unknownOption,
      "`\(word)` is not an option of \(statement)" + KernelNames.didYouMean(word, among: candidates)
        + " (options: " + candidates.joined(separator: ", ") + ")")
  }

  /// `flags N` / `mode N` / `features N`: the raw value replaces the words.
  mutating func rawOption<F>(_ options: inout Options<F>) throws(ParseAbort) {
    advance()
    options.raw = try parseSum()
  }

  // mmap_statement = "mmap" sum { "at" sum | "prot" bit_or | "flags" sum | MAP_WORD }
  mutating func parseMmap(binding: Name?) throws(ParseAbort) -> StatementKind {
    advance()
    let length = try parseSum()
    var address: ExprID?
    var prot: ExprID?
    var flags = Options<MapFlags>()
    while true {
      if isKeyword(.at) {
        advance()
        address = try parseSum()
      } else if isKeyword(.prot) {
        advance()
        prot = try parseBitOr()
      } else if isKeyword(.flags) {
        try rawOption(&flags)
      } else if optionWord(OptionTables.mmap, into: &flags) {
        continue
      } else if token.kind == .identifier {
        throw unknownOption("mmap", ["at", "prot", "flags"] + OptionTables.names(OptionTables.mmap))
      } else {
        break
      }
    }
    return .mmap(Mmap(binding: binding, length: length, address: address, prot: prot, flags: flags))
  }

  // mprotect_statement = "mprotect" target bit_or
  mutating func parseMprotect() throws(ParseAbort) -> StatementKind {
    advance()
    let target = try parseTarget()
    guard startsExpression(token) else {
      throw fail(
        .expectedExpression,
        "expected the new protection after the range, such as `READ`, `READ|WRITE` or `NONE`; found \(describe(token))")
    }
    return .mprotect(target: target, prot: try parseBitOr())
  }

  // madvise_statement = "madvise" target sum
  mutating func parseMadvise() throws(ParseAbort) -> StatementKind {
    advance()
    let target = try parseTarget()
    guard startsExpression(token) else {
      throw fail(
        .expectedExpression,
        "expected an advice after the range, such as `DONTFORK` or `DONTNEED`; found \(describe(token))")
    }
    return .madvise(target: target, advice: try parseSum())
  }

  // mremap_statement = "mremap" target { "to" sum | "at" sum | "flags" sum | "maymove" | "fixed" | "dontunmap" }
  mutating func parseMremap(binding: Name?) throws(ParseAbort) -> StatementKind {
    advance()
    let target = try parseTarget()
    var newLength: ExprID?
    var newAddress: ExprID?
    var flags = Options<MremapFlags>()
    while true {
      if isKeyword(.to) {
        advance()
        newLength = try parseSum()
      } else if isKeyword(.at) {
        advance()
        newAddress = try parseSum()
      } else if isKeyword(.flags) {
        try rawOption(&flags)
      } else if optionWord(OptionTables.mremap, into: &flags) {
        continue
      } else if token.kind == .identifier {
        throw unknownOption("mremap", ["to", "at", "flags"] + OptionTables.names(OptionTables.mremap))
      } else {
        break
      }
    }
    return .mremap(Mremap(binding: binding, target: target, newLength: newLength, newAddress: newAddress, flags: flags))
  }

  // touch_statement = "touch" target [ "read" | "write" [ sum ] ]
  mutating func parseTouch() throws(ParseAbort) -> StatementKind {
    advance()
    let target = try parseTarget()
    if isKeyword(.read) {
      advance()
      return .touch(target: target, access: .read)
    }
    if isKeyword(.write) {
      advance()
      let fill = startsExpression(token) ? try parseSum() : nil
      return .touch(target: target, access: .write(fill: fill))
    }
    if token.kind == .identifier { throw unknownOption("touch", ["read", "write"]) }
    return .touch(target: target, access: .read)
  }

  // write_statement = "write" sum sum { sum }
  mutating func parseWrite() throws(ParseAbort) -> StatementKind {
    advance()
    let address = try parseSum()
    var data: [ExprID] = []
    while startsExpression(token) { data.append(try parseSum()) }
    if data.isEmpty {
      throw fail(
        .expectedExpression,
        "expected the bytes to write after the address: a string, a character or byte values, as in `write r + 16 \"hi\"`"
      )
    }
    return .write(address: address, data: data)
  }

  // exit_statement = "exit" [ NAME ]
  mutating func parseExit() throws(ParseAbort) -> StatementKind {
    advance()
    if token.kind == .identifier { return .exit(process: try parseNameReference("a process name")) }
    return .exit(process: nil)
  }

  // on_statement = "on" NAME ( block | statement )
  mutating func parseOn() throws(ParseAbort) -> StatementKind {
    advance()
    let process = try parseNameReference("a process name after `on`")
    if token.kind == .leftBrace {
      return .on(process: process, body: try parseBlock(), isBlock: true)
    }
    if token.kind == .newline || token.kind == .endOfInput {
      throw fail(
        .expectedToken,
        "expected `{` or a statement after `on \(text(process.range))`; a block must open on the same line")
    }
    if blockDepth >= ParserLimits.maxBlockDepth {
      throw fail(
        .nestingTooDeep, "`on` statements are nested more than \(ParserLimits.maxBlockDepth) deep; flatten the script")
    }
    blockDepth += 1
    defer { blockDepth -= 1 }
    let inner = try parseStatement()
    return .on(process: process, body: [inner], isBlock: false)
  }

  // for_statement = "for" NAME "in" sum ( "..." | "..<" ) sum block
  mutating func parseFor() throws(ParseAbort) -> StatementKind {
    advance()
    let variable = try parseBindingName()
    guard isKeyword(.in) else {
      throw fail(.expectedToken, "expected `in` after the loop variable, as in `for i in 0..<4 { … }`")
    }
    advance()
    let lower = try parseSum()
    let inclusive: Bool
    switch token.kind {
    case .closedRange: inclusive = true
    case .halfOpenRange: inclusive = false
    default: throw fail(.expectedToken, "expected `...` or `..<` in the loop range, found \(describe(token))")
    }
    advance()
    let upper = try parseSum()
    let body = try parseBlock()
    return .forLoop(ForLoop(variable: variable, lower: lower, upper: upper, inclusive: inclusive, body: body))
  }

  // userfaultfd_statement = "userfaultfd" { "nonblock" | "cloexec" | "user_mode_only" | "flags" sum }
  mutating func parseUserfaultfd(binding: Name?) throws(ParseAbort) -> StatementKind {
    advance()
    var flags = Options<UserfaultfdFlags>()
    while true {
      if isKeyword(.flags) {
        try rawOption(&flags)
      } else if optionWord(OptionTables.userfaultfd, into: &flags) {
        continue
      } else if token.kind == .identifier {
        throw unknownOption("userfaultfd", ["flags"] + OptionTables.names(OptionTables.userfaultfd))
      } else {
        break
      }
    }
    return .userfaultfd(binding: binding, flags: flags)
  }

  // api_statement = "api" NAME { "version" sum | "features" ( sum | FEATURE { FEATURE } ) }
  mutating func parseApi() throws(ParseAbort) -> StatementKind {
    advance()
    let uffd = try parseNameReference("a userfaultfd name")
    var version: ExprID?
    var features = Options<UffdFeatures>()
    while token.kind == .identifier {
      if isWord("version") {
        advance()
        version = try parseSum()
      } else if isWord("features") {
        advance()
        if token.kind == .identifier {
          guard optionWord(OptionTables.features, into: &features) else {
            throw unknownOption("features", OptionTables.names(OptionTables.features))
          }
          while optionWord(OptionTables.features, into: &features) {}
        } else {
          features.raw = try parseSum()
        }
      } else {
        throw unknownOption("api", ["version", "features"])
      }
    }
    return .api(uffd: uffd, version: version, features: features)
  }

  // register_statement = "register" NAME target { "missing" | "wp" | "minor" | "mode" sum }
  mutating func parseRegister() throws(ParseAbort) -> StatementKind {
    advance()
    let uffd = try parseNameReference("a userfaultfd name")
    let target = try parseTarget()
    var mode = Options<UffdRegisterMode>()
    while token.kind == .identifier {
      if isWord("mode") {
        try rawOption(&mode)
      } else if !optionWord(OptionTables.register, into: &mode) {
        throw unknownOption("register", ["mode"] + OptionTables.names(OptionTables.register))
      }
    }
    return .register(uffd: uffd, target: target, mode: mode)
  }

  /// `DST <- SRC` of the moving statements.
  mutating func parseDirection(_ statement: String) throws(ParseAbort) -> (dst: ExprID, src: ExprID) {
    let dst = try parseTarget()
    guard token.kind == .leftArrow else {
      throw fail(
        .expectedToken,
        "expected `<-` between destination and source, as in `\(statement) dst <- src`; found \(describe(token))")
    }
    advance()
    try operandFollows("<-")
    return (dst, try parseTarget())
  }

  /// `via NAME`
  mutating func parseVia(_ statement: String) throws(ParseAbort) -> Name {
    guard isKeyword(.via) else {
      throw fail(
        .expectedToken, "expected `via UFFD` naming the userfaultfd for \(statement); found \(describe(token))")
    }
    advance()
    return try parseNameReference("a userfaultfd name after `via`")
  }

  /// Mode words and `mode N` after a uffd ioctl.
  /// `rawIsFlags` selects `flags N` (a syscall argument) over `mode N` (an ioctl field).
  mutating func parseModes<F>(_ table: [(StaticString, F)], _ statement: String, rawIsFlags: Bool) throws(ParseAbort)
    -> Options<F>
  {
    var mode = Options<F>()
    while token.kind == .identifier || isKeyword(.flags) {
      if rawIsFlags ? isKeyword(.flags) : isWord("mode") {
        try rawOption(&mode)
      } else if !optionWord(table, into: &mode) {
        throw unknownOption(statement, [rawIsFlags ? "flags" : "mode"] + table.map { "\($0.0)" })
      }
    }
    return mode
  }

  // remap_statement = "remap" target "<-" target "via" NAME { "allow_src_holes" | "dontwake" | "mode" sum }
  mutating func parseRemap() throws(ParseAbort) -> StatementKind {
    advance()
    let (dst, src) = try parseDirection("remap")
    let uffd = try parseVia("remap (UFFDIO_MOVE); for the 2014 syscall write `remap_anon_pages`")
    return .remap(dst: dst, src: src, uffd: uffd, mode: try parseModes(OptionTables.move, "remap", rawIsFlags: false))
  }

  // remap_anon_pages_statement = "remap_anon_pages" target "<-" target { "allow_src_holes" | "flags" sum }
  mutating func parseRemapAnonPages() throws(ParseAbort) -> StatementKind {
    advance()
    let (dst, src) = try parseDirection("remap_anon_pages")
    if isKeyword(.via) {
      throw fail(
        .unknownOption,
        "remap_anon_pages is the 2014 syscall and takes no userfaultfd; remove `via …` or write `remap` for UFFDIO_MOVE"
      )
    }
    return .remapAnonPages(
      dst: dst, src: src, flags: try parseModes(OptionTables.remapAnonPages, "remap_anon_pages", rawIsFlags: true))
  }

  // copy_statement = "copy" target "<-" target "via" NAME { "dontwake" | "wp" | "mode" sum }
  mutating func parseCopy() throws(ParseAbort) -> StatementKind {
    advance()
    let (dst, src) = try parseDirection("copy")
    let uffd = try parseVia("copy (UFFDIO_COPY)")
    return .copy(dst: dst, src: src, uffd: uffd, mode: try parseModes(OptionTables.copy, "copy", rawIsFlags: false))
  }

  // zeropage_statement = "zeropage" target "via" NAME { "dontwake" | "mode" sum }
  mutating func parseZeropage() throws(ParseAbort) -> StatementKind {
    advance()
    let dst = try parseTarget()
    let uffd = try parseVia("zeropage (UFFDIO_ZEROPAGE)")
    return .zeropage(dst: dst, uffd: uffd, mode: try parseModes(OptionTables.zeropage, "zeropage", rawIsFlags: false))
  }

  // assert_statement = "assert" expression [ "," STRING ]
  mutating func parseAssert() throws(ParseAbort) -> StatementKind {
    advance()
    let condition = try parseExpression()
    var message: String?
    if token.kind == .comma {
      advance()
      try operandFollows(",")
      guard token.kind == .string else {
        throw fail(.expectedToken, "expected a string message after `,`, found \(describe(token))")
      }
      message = String(decoding: Lexer.decodeString(buf, token.range), as: UTF8.self)
      advance()
    }
    return .assert(condition: condition, message: message)
  }

  // print_statement = "print" target { "," target }
  mutating func parsePrint() throws(ParseAbort) -> StatementKind {
    advance()
    var items = [try parseTarget()]
    while token.kind == .comma {
      advance()
      try operandFollows(",")
      items.append(try parseTarget())
    }
    return .print(items)
  }

  // view = "maps" | "pages" target | "tree" | "stats"
  mutating func parseView() throws(ParseAbort) -> View {
    if isKeyword(.pages) {
      advance()
      return .pages(try parseTarget())
    }
    if isWord("maps") {
      advance()
      return .maps
    }
    if isWord("tree") {
      advance()
      return .tree
    }
    if isWord("stats") {
      advance()
      return .stats
    }
    let views = ["maps", "pages", "tree", "stats"]
    if token.kind == .identifier {
      let word = quoted(token.range)
      throw fail(
        .unknownView,
        "`\(word)` is not a view" + KernelNames.didYouMean(word, among: views)
          + " (views: maps, pages RANGE, tree, stats)")
    }
    throw fail(.unknownView, "expected a view (maps, pages RANGE, tree, stats), found \(describe(token))")
  }

  // expect_statement = "expect" view "{" NEWLINE { RAW_LINE NEWLINE } "}"
  mutating func parseExpect() throws(ParseAbort) -> StatementKind {
    advance()
    let view = try parseView()
    guard token.kind == .leftBrace else {
      throw fail(
        .expectedToken, "expected `{` and then the expected lines, one per line, closed by `}` on its own line")
    }
    let open = token.range
    // The lines are raw text: take them from the lexer directly, past the `{`.
    guard lookahead == nil else { throw fail(.expectedToken, "expected a line break after `{`") }
    lexer.position = open.end
    var rest = lexer.position
    while rest < buf.count && (buf[rest] == 0x20 || buf[rest] == 0x09 || buf[rest] == 0x0D) { rest += 1 }
    if rest < buf.count && buf[rest] != 0x0A {
      lexer.position = rest
      advance()
      throw fail(.expectedToken, "the expected lines start on the line after `{`")
    }
    lexer.position = rest < buf.count ? rest + 1 : rest
    let (ranges, close) = lexer.rawLines()
    let lines = ranges.map { ExpectedLine(text($0), $0) }
    guard let close else {
      lexer.position = buf.count
      token = Token(.endOfInput, .at(buf.count))
      incomplete = true
      diagnostics.report(
        .unexpectedEndOfInput, at: .at(buf.count),
        "unexpected end of input: the `expect` block is not closed; end it with `}` on its own line",
        notes: [DiagnosticNote("the block opens here", at: open)])
      throw ParseAbort()
    }
    previousEnd = close.end
    token = lexer.next()
    return .expect(view, lines: lines)
  }

  // outcome = "=>" ( "ok" | ERRNO | SIGNAL [ SIGNAL_CODE ] | "userfault" | "not" "modelled" ) [ "moved" sum ] [ "at" sum ]
  mutating func parseOutcome() throws(ParseAbort) -> ExpectedOutcome {
    let start = token.range.start
    advance()
    let kind: OutcomeKind
    let outcomes = "ok, an errno such as EEXIST, SIGSEGV, SIGBUS, userfault or not modelled"
    switch token.kind {
    case .identifier where isWord("ok"):
      advance()
      kind = .ok
    case .identifier where isWord("userfault"):
      advance()
      kind = .userfault
    case .keyword(.not):
      advance()
      guard isWord("modelled") || isWord("modeled") else {
        throw fail(.invalidOutcome, "expected `modelled` after `=> not`")
      }
      advance()
      kind = .notModelled
    case .constant:
      let range = token.range
      let hash = UInt32(truncatingIfNeeded: token.value)
      advance()
      if case .errno(let errno)? = KernelNames.constant(buf, range, hash: hash) {
        kind = .errno(errno)
      } else if range.length >= 3 && buf[range.start] == UInt8(ascii: "S") && buf[range.start + 1] == UInt8(ascii: "I")
        && buf[range.start + 2] == UInt8(ascii: "G")
      {
        let word = text(SourceRange(range.start, Swift.min(range.end, range.start + 64)))
        guard let signal = KernelNames.signals.first(where: { $0.name == word }) else {
          let word = quoted(range)
          diagnostics.report(
            .unknownSignal, at: range,
            "unknown signal `\(word)`" + KernelNames.didYouMean(word, among: KernelNames.signals.map(\.name))
              + "; a memory access raises SIGSEGV or SIGBUS")
          kind = .ok
          break
        }
        var code: Int32?
        if token.kind == .constant {
          let codeWord = text(SourceRange(token.range.start, Swift.min(token.range.end, token.range.start + 64)))
          let codes = KernelNames.signalCodes.filter { $0.signo == signal.signo }
          if let c = codes.first(where: { $0.name == codeWord }) {
            code = c.code
          } else {
            let codeWord = quoted(token.range)
            diagnostics.report(
              .unknownSignal, at: token.range,
              "`\(codeWord)` is not a \(signal.name) code" + KernelNames.didYouMean(codeWord, among: codes.map(\.name))
                + " (\(signal.name) codes: " + codes.map(\.name).joined(separator: ", ") + ")")
          }
          advance()
        }
        kind = .signal(signo: signal.signo, code: code)
      } else {
        let word = quoted(range)
        diagnostics.report(
          .unknownErrno, at: range,
          "unknown errno `\(word)`"
            + KernelNames.didYouMean(word, among: KernelNames.errnoNames + KernelNames.signals.map(\.name))
            + "; grammar.md lists the accepted names")
        kind = .ok
      }
    case .newline, .endOfInput:
      throw fail(.invalidOutcome, "expected an outcome after `=>`: \(outcomes)")
    default:
      let word = token.kind == .identifier ? quoted(token.range) : ""
      let hint = word.isEmpty ? "" : KernelNames.didYouMean(word.uppercased(), among: KernelNames.errnoNames)
      throw fail(.invalidOutcome, "\(describe(token)) is not an outcome" + hint + "; expected \(outcomes)")
    }
    var moved: ExprID?
    var address: ExprID?
    while true {
      if isKeyword(.moved) && moved == nil {
        advance()
        moved = try parseSum()
      } else if isKeyword(.at) && address == nil {
        advance()
        address = try parseSum()
      } else {
        break
      }
    }
    return ExpectedOutcome(kind: kind, moved: moved, address: address, range: SourceRange(start, previousEnd))
  }
}
