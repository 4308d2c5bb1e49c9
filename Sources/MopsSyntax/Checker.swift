import MopsABI

/// Resolves names and checks types in one pass over a parsed script, reporting every
/// error it finds (use before binding, a process where a region is expected,
/// duplicate bindings, unknown advice and flag names, outcomes a statement cannot
/// have, bytes out of range).
///
/// A checker keeps its bindings between calls, so a REPL checks each input against
/// everything bound before it.
public struct Checker: Sendable {
  /// Allow a name to be bound again (the REPL redefines freely; files may not).
  public var allowsRebinding: Bool
  public private(set) var bindings: [Binding]
  /// Names bound by earlier checks (a REPL's previous inputs) and `main`.
  private var scope: [String: BindingID]

  // Per-check state.
  private static let noScript = Script(
    statements: [], directives: [], exprs: [], strings: [], flagWords: [], symbolTable: SymbolTable(), nameSlotCount: 0)
  private var script = Checker.noScript
  private var diagnostics = DiagnosticBag(limit: ParserLimits.diagnosticLimit)
  private var resolutions: [BindingID] = []
  /// The script's spellings, and per symbol the binding in scope (-1 none): name
  /// resolution by array index, not by hashing.
  private var symbols: [String] = []
  private var symbolBindings: [BindingID] = []
  /// Per symbol, where the script first binds it (for "used before binding").
  private var laterBindings: [SourceRange?] = []
  private var loopDepth = 0

  public init(allowsRebinding: Bool = false) {
    self.allowsRebinding = allowsRebinding
    bindings = [Binding(name: "main", kind: .process, range: nil)]
    scope = ["main": 0]
  }

  /// Parses and checks a file; the checked script is present when there is no error.
  public mutating func check(_ file: SourceFile) -> CheckResult {
    let parsed = MopsParser.parse(file)
    let (checked, checkDiagnostics) = check(parsed.script)
    var all = parsed.diagnostics
    all.merge(checkDiagnostics)
    let ok = !all.hasErrors
    return CheckResult(
      checked: ok ? checked : nil, script: parsed.script, diagnostics: all.sorted,
      suppressedCount: all.suppressed, isIncomplete: parsed.isIncomplete)
  }

  /// Checks a parsed script (which may contain `.invalid` statements from syntax
  /// errors); returns the resolved script and the checker's diagnostics.
  public mutating func check(_ script: Script) -> (CheckedScript, DiagnosticBag) {
    self.script = script
    defer { self.script = Checker.noScript }
    diagnostics = DiagnosticBag(limit: ParserLimits.diagnosticLimit)
    resolutions = [BindingID](repeating: -1, count: script.nameSlotCount)
    symbols = script.symbols
    // Seed the per-symbol bindings from the names already in scope (`main`, and a
    // REPL's earlier inputs): one table probe per such name, none per use.
    symbolBindings = [BindingID](repeating: -1, count: symbols.count)
    for (name, id) in scope {
      if let symbol = script.symbolTable.symbol(of: name) { symbolBindings[symbol] = id }
    }
    laterBindings = [SourceRange?](repeating: nil, count: symbols.count)
    collectBindings(script.statements)
    check(script.statements)
    for (symbol, id) in symbolBindings.enumerated() where id >= 0 { scope[symbols[symbol]] = id }
    symbols = []
    let checked = CheckedScript(script: script, bindings: bindings, resolutions: resolutions)
    return (checked, diagnostics)
  }

  // MARK: Names

  private mutating func collectBindings(_ statements: [Statement]) {
    for s in statements {
      var name: Name?
      switch s.kind {
      case .mmap(let m): name = m.binding
      case .mremap(let m): name = m.binding
      case .fork(let b), .userfaultfd(let b, _), .invalid(let b): name = b
      case .capture(let n, _): name = n
      case .on(_, let body, _): collectBindings(body)
      case .forLoop(let loop): collectBindings(loop.body)
      default: break
      }
      if let name, laterBindings[name.symbolIndex] == nil { laterBindings[name.symbolIndex] = name.range }
    }
  }

  private func text(_ name: Name) -> String { symbols[name.symbolIndex] }

  /// The binding in scope for `name`'s spelling, if any.
  private func lookup(_ name: Name) -> BindingID? {
    let id = symbolBindings[name.symbolIndex]
    return id >= 0 ? id : nil
  }

  /// Binds `name` to a new binding of `kind`.
  private mutating func declare(_ name: Name, _ kind: NameKind) {
    if let existing = lookup(name) {
      let previous = bindings[existing]
      if case .unknown = kind {
        resolutions[Int(name.slot)] = existing
        return
      }
      if loopDepth == 0 && !allowsRebinding {
        let spelled = abbreviated(text(name))
        if let first = previous.range {
          diagnostics.report(
            .duplicateBinding, at: name.range, "`\(spelled)` is already bound; choose another name",
            notes: [DiagnosticNote("`\(spelled)` is first bound here", at: first)])
        } else {
          diagnostics.report(
            .duplicateBinding, at: name.range, "`\(spelled)` names the initial process; choose another name")
        }
      }
    }
    if loopDepth > 0 {
      let spelled = abbreviated(text(name))
      diagnostics.report(
        .bindingInLoop, at: name.range,
        "a `for` body cannot bind names (`\(spelled)` would be bound once per iteration); bind it before the loop")
    }
    let id = bindings.count
    bindings.append(Binding(name: text(name), kind: kind, range: name.range))
    symbolBindings[name.symbolIndex] = id
    resolutions[Int(name.slot)] = id
  }

  /// Resolves a use of `name`; nil (after reporting) when it is not bound yet.
  private mutating func resolve(_ name: Name) -> NameKind? {
    if let id = lookup(name) {
      resolutions[Int(name.slot)] = id
      return bindings[id].kind
    }
    let spelled = abbreviated(text(name))
    if let later = laterBindings[name.symbolIndex], later.start > name.range.start {
      diagnostics.report(
        .usedBeforeBinding, at: name.range, "`\(spelled)` is used before it is bound; move the binding above this line",
        notes: [DiagnosticNote("`\(spelled)` is bound here", at: later)])
    } else {
      let hint = diagnostics.isFull ? "" : KernelNames.didYouMean(spelled, among: boundNames())
      diagnostics.report(
        .undefinedName, at: name.range,
        "`\(spelled)` is not bound" + hint
          + "; bind it first, e.g. `\(spelled) = mmap 1 page`")
    }
    return nil
  }

  /// Every name in scope now (for suggestions).
  private func boundNames() -> [String] {
    var names = Set(scope.keys)
    for (symbol, id) in symbolBindings.enumerated() {
      if id >= 0 { names.insert(symbols[symbol]) } else if id == -1 { names.remove(symbols[symbol]) }
    }
    return Array(names)
  }

  /// A name that must be a process (`on P`, `exit P`, `… in P`).
  private mutating func expectProcess(_ name: Name) {
    guard let kind = resolve(name) else { return }
    switch kind {
    case .process, .unknown: return
    default:
      let spelled = abbreviated(text(name))
      diagnostics.report(
        .wrongKind, at: name.range,
        "`\(spelled)` is \(kind.phrase), but a process is needed here (`main` or a name bound by `fork`)")
    }
  }

  /// A name that must be a userfaultfd.
  private mutating func expectUffd(_ name: Name) {
    guard let kind = resolve(name) else { return }
    switch kind {
    case .uffd, .unknown: return
    default:
      let spelled = abbreviated(text(name))
      diagnostics.report(
        .wrongKind, at: name.range,
        "`\(spelled)` is \(kind.phrase), but a userfaultfd is needed here (bind one with `u = userfaultfd`)")
    }
  }

  // MARK: Statements

  private mutating func check(_ statements: [Statement]) {
    for s in statements { check(s) }
  }

  private mutating func check(_ s: Statement) {
    switch s.kind {
    case .mmap(let m):
      expectInt(m.length, "the mapping size")
      if let a = m.address { expectAddress(a, "the address") }
      if let p = m.prot { expectProt(p) }
      checkRaw(m.flags, "flags")
      if m.address == nil && !m.flags.words.intersection([.fixed, .fixedNoreplace]).isEmpty {
        diagnostics.report(
          .missingOption, at: s.range, "`fixed` and `noreplace` place the mapping at an exact address; add `at ADDRESS`"
        )
      }
      if let b = m.binding { declare(b, .region) }
    case .munmap(let t), .read(let t), .pin(let t), .unpin(let t):
      expectRange(t, "the range")
    case .mprotect(let t, let p):
      expectRange(t, "the range")
      expectProt(p)
    case .madvise(let t, let advice):
      expectRange(t, "the range")
      expectAdvice(advice)
    case .mremap(let m):
      expectRange(m.target, "the old range")
      if let n = m.newLength { expectInt(n, "the new size") }
      if let a = m.newAddress { expectAddress(a, "the new address") }
      checkRaw(m.flags, "flags")
      if m.newAddress == nil && m.flags.words.contains(.fixed) {
        diagnostics.report(
          .missingOption, at: s.range, "`fixed` moves the mapping to an exact address; add `at ADDRESS`")
      }
      if let b = m.binding { declare(b, .region) }
    case .touch(let t, let access):
      expectAddress(t, "the page or range to touch")
      if case .write(let fill?) = access { expectByte(fill) }
    case .write(let address, let data):
      expectAddress(address, "the address")
      for d in data {
        if case .string = script[d].kind { continue }
        expectByte(d)
      }
    case .fork(let b):
      if let b { declare(b, .process) }
    case .exit(let p):
      if let p { expectProcess(p) }
    case .on(let p, let body, _):
      expectProcess(p)
      check(body)
    case .forLoop(let loop):
      expectInt(loop.lower, "the loop's lower bound")
      expectInt(loop.upper, "the loop's upper bound")
      let saved = lookup(loop.variable) ?? -1
      let id = bindings.count
      bindings.append(Binding(name: text(loop.variable), kind: .value(.int), range: loop.variable.range))
      symbolBindings[loop.variable.symbolIndex] = id
      resolutions[Int(loop.variable.slot)] = id
      loopDepth += 1
      check(loop.body)
      loopDepth -= 1
      symbolBindings[loop.variable.symbolIndex] = saved
    case .userfaultfd(let b, let flags):
      checkRaw(flags, "flags")
      if let b { declare(b, .uffd) }
    case .api(let u, let version, let features):
      expectUffd(u)
      if let v = version { expectInt(v, "the API version") }
      checkRaw(features, "features")
    case .register(let u, let t, let mode):
      expectUffd(u)
      expectRange(t, "the range to register")
      checkRaw(mode, "mode")
    case .unregister(let u, let t):
      expectUffd(u)
      expectRange(t, "the range to unregister")
    case .close(let u):
      expectUffd(u)
    case .remap(let dst, let src, let u, let mode):
      checkMove(dst, src, "remap")
      expectUffd(u)
      checkRaw(mode, "mode")
    case .remapAnonPages(let dst, let src, let flags):
      checkMove(dst, src, "remap_anon_pages")
      checkRaw(flags, "flags")
    case .copy(let dst, let src, let u, let mode):
      checkMove(dst, src, "copy")
      expectUffd(u)
      checkRaw(mode, "mode")
    case .zeropage(let dst, let u, let mode):
      expectRange(dst, "the destination range")
      expectUffd(u)
      checkRaw(mode, "mode")
    case .assert(let condition, _):
      expectBool(condition, "an assertion")
    case .print(let items):
      for item in items {
        if case .name(let n) = script[item].kind, let id = lookup(n) {
          switch bindings[id].kind {
          case .process, .uffd:
            resolutions[Int(n.slot)] = id
            continue
          default: break
          }
        }
        _ = type(of: item)
      }
    case .show(let view), .expect(let view, _):
      if case .pages(let t) = view { expectRange(t, "the pages to show") }
    case .capture(let n, let e):
      var t = type(of: e)
      if t == .region { t = .range }
      declare(n, t == .unknown ? .unknown : .value(t))
    case .invalid(let b):
      if let b, lookup(b) == nil { declare(b, .unknown) }
    }
    if let outcome = s.outcome { check(outcome, of: s) }
  }

  /// `flags N` / `mode N` / `features N` must be a number and replaces the words.
  private mutating func checkRaw<F>(_ options: Options<F>, _ keyword: String) {
    guard let raw = options.raw else { return }
    expectInt(raw, "`\(keyword)`")
    if let first = options.firstWordRange {
      diagnostics.report(
        .conflictingOptions, at: script[raw].range,
        "`\(keyword) N` gives the raw value and replaces the flag words; use either the words or `\(keyword) N`",
        notes: [DiagnosticNote("flag word given here", at: first)])
    }
  }

  /// `DST <- SRC`: addresses or ranges, and at least one side must say the length.
  private mutating func checkMove(_ dst: ExprID, _ src: ExprID, _ statement: String) {
    let d = type(of: dst)
    let s = type(of: src)
    for (e, t, side) in [(dst, d, "destination"), (src, s, "source")] where !t.isAddress {
      diagnostics.report(
        .typeMismatch, at: script[e].range, "the \(side) of \(statement) must be an address or a range, not \(t.phrase)"
      )
    }
    if d.isAddress && s.isAddress && !d.isRange && !s.isRange {
      diagnostics.report(
        .missingLength, at: script[dst].range.union(script[src].range),
        "neither side says how many bytes to move; give a range on one side, such as `dst[0...3]` or `ADDRESS len 4 pages`"
      )
    }
  }

  private mutating func check(_ outcome: ExpectedOutcome, of s: Statement) {
    let isAccess: Bool
    let isMove: Bool
    switch s.kind {
    case .touch, .read, .write: (isAccess, isMove) = (true, false)
    case .remap, .copy, .zeropage, .remapAnonPages: (isAccess, isMove) = (false, true)
    default: (isAccess, isMove) = (false, false)
    }
    guard s.kind.isOperation else {
      diagnostics.report(
        .outcomeNotAllowed, at: outcome.range,
        "only operations have outcomes; assert, print, show, expect, let, on and for do not (put `=>` on the statement inside)"
      )
      return
    }
    switch outcome.kind {
    case .signal, .userfault:
      if !isAccess {
        diagnostics.report(
          .outcomeNotAllowed, at: outcome.range,
          "only memory accesses (touch, read, write) raise a signal or a userfault; a system call fails with an errno")
      }
    case .errno:
      if isAccess {
        diagnostics.report(
          .outcomeNotAllowed, at: outcome.range,
          "memory accesses do not fail with an errno; expect SIGSEGV, SIGBUS or userfault")
      }
    case .ok, .notModelled: break
    }
    if let moved = outcome.moved {
      if isMove {
        expectInt(moved, "the bytes moved")
      } else {
        diagnostics.report(
          .outcomeNotAllowed, at: script[moved].range, "`moved` applies to remap, copy, zeropage and remap_anon_pages")
      }
    }
    if let address = outcome.address {
      switch outcome.kind {
      case .signal, .userfault: expectAddress(address, "the faulting address")
      default:
        diagnostics.report(
          .outcomeNotAllowed, at: script[address].range,
          "`at ADDRESS` gives the faulting address of a signal or userfault")
      }
    }
  }

  // MARK: Expectations

  private mutating func mismatch(_ e: ExprID, _ t: ValueType, _ wanted: String, _ what: String) {
    diagnostics.report(.typeMismatch, at: script[e].range, "\(what) must be \(wanted), but this is \(t.phrase)")
  }

  private mutating func expectInt(_ e: ExprID, _ what: @autoclosure () -> String) {
    let t = type(of: e)
    if t != .int && t != .unknown { mismatch(e, t, "a number", what()) }
  }

  private mutating func expectBool(_ e: ExprID, _ what: @autoclosure () -> String) {
    let t = type(of: e)
    if t != .bool && t != .unknown {
      mismatch(e, t, "a condition (a comparison, or an observation such as `present r[0]`)", what())
    }
  }

  private mutating func expectAddress(_ e: ExprID, _ what: @autoclosure () -> String) {
    let t = type(of: e)
    if !t.isAddress { mismatch(e, t, "an address (a number, `r`, `r[i]` or `r + 8K`)", what()) }
  }

  private mutating func expectRange(_ e: ExprID, _ what: @autoclosure () -> String) {
    let t = type(of: e)
    if !t.isRange {
      if t == .int {
        diagnostics.report(
          .typeMismatch, at: script[e].range,
          "\(what()) must be a range; an address alone has no length: write `r[i]`, `r[i...j]` or `ADDRESS len SIZE`")
      } else {
        mismatch(e, t, "a range (`r`, `r[i]`, `r[i...j]` or `ADDRESS len SIZE`)", what())
      }
    }
  }

  private mutating func expectByte(_ e: ExprID) {
    let t = type(of: e)
    if t != .int && t != .unknown {
      mismatch(e, t, "a byte value (a character such as 'A' or a number 0…255)", "the value")
    } else if case .integer(let v) = script[e].kind, v > 255 {
      diagnostics.report(
        .valueOutOfRange, at: script[e].range, "a byte holds 0…255, not \(v); write one byte, or a string for several")
    }
  }

  private mutating func expectProt(_ e: ExprID) {
    let t = type(of: e, expecting: .prot)
    if t != .prot && t != .int && t != .unknown {
      mismatch(e, t, "a protection (`READ`, `READ|WRITE`, `NONE`, or a number)", "the protection")
    }
  }

  private mutating func expectAdvice(_ e: ExprID) {
    let t = type(of: e, expecting: .advice)
    if t != .advice && t != .int && t != .unknown {
      mismatch(e, t, "an advice (`DONTFORK`, `MADV_DONTNEED`, … or a number)", "the advice")
    }
  }

  // MARK: Expressions

  /// The type of `e`, reporting what is wrong inside it. `expecting` only sharpens
  /// the suggestion for an unknown constant.
  private mutating func type(of e: ExprID, expecting: ValueType? = nil) -> ValueType {
    switch script[e].kind {
    case .integer: return .int
    case .boolean: return .bool
    case .string: return .string
    case .name(let n):
      guard let kind = resolve(n) else { return .unknown }
      switch kind {
      case .region: return .region
      case .value(let t): return t
      case .unknown: return .unknown
      case .process, .uffd:
        let spelled = abbreviated(text(n))
        diagnostics.report(
          .wrongKind, at: n.range,
          "`\(spelled)` is \(kind.phrase), not a value; use it with `on \(spelled)`, `in \(spelled)` or `via \(spelled)`"
        )
        return .unknown
      }
    case .constant(let c):
      switch c {
      case .errno: return .errno
      case .prot: return .prot
      case .advice: return .advice
      case .unknown(let symbol):
        let word = symbol >= 0 ? symbols[Int(symbol)] : "?"
        let candidates: [String]
        let family: String
        switch expecting {
        case .advice?: (candidates, family) = (KernelNames.adviceNames, "advice")
        case .prot?: (candidates, family) = (KernelNames.protNames.map(\.0), "protection")
        case .errno?: (candidates, family) = (KernelNames.errnoNames, "errno")
        default: (candidates, family) = (KernelNames.allConstantNames, "constant")
        }
        let id: DiagnosticID = expecting == .advice ? .unknownAdvice : .unknownConstant
        diagnostics.report(
          id, at: script[e].range,
          "unknown \(family) `\(abbreviated(word))`" + KernelNames.didYouMean(word, among: candidates))
        return .unknown
      }
    case .not(let operand):
      expectBool(operand, "the operand of `not`")
      return .bool
    case .binary(let op, let lhs, let rhs):
      return binaryType(op, lhs, rhs, e, expecting: expecting)
    case .pages(let count):
      expectInt(count, "the page count")
      return .int
    case .page(let base, let index):
      expectRange(base, "the indexed value")
      expectInt(index, "the page index")
      return .range
    case .pageRange(let base, let lower, let upper, _):
      expectRange(base, "the indexed value")
      expectInt(lower, "the first page index")
      expectInt(upper, "the last page index")
      return .range
    case .span(let start, let length):
      expectAddress(start, "the start of the range")
      expectInt(length, "the length after `len`")
      return .range
    case .observe(let o, let operand, let process):
      if let operand {
        if o == .size {
          expectRange(operand, "the operand of `size`")
        } else {
          expectAddress(operand, "the operand of `\(o.rawValue)`")
        }
      }
      if let process { expectProcess(process) }
      switch o {
      case .frame: return .frame
      case .mapcount, .byte, .vmaStart, .vmaEnd, .size, .vmas, .rss, .anonPages, .moved, .result: return .int
      case .exclusive, .anonExclusive, .present, .zeropage, .pteNone, .writable, .mapped: return .bool
      case .contents: return .contents
      case .flags: return .vmFlags
      case .prot: return .prot
      case .errno: return .errno
      }
    case .cost:
      return .int
    case .has(let lhs, let slice):
      let t = type(of: lhs)
      if t != .vmFlags && t != .unknown {
        mismatch(lhs, t, "VMA flags (`flags ADDRESS`)", "the left side of `has`")
      }
      for w in script.words(slice) where w.flag == nil {
        let word = symbols[Int(w.symbol)]
        diagnostics.report(
          .unknownVMFlag, at: w.range,
          "`\(abbreviated(word))` is not a VMA flag mnemonic"
            + KernelNames.didYouMean(word, among: KernelNames.vmFlagMnemonics)
            + " (smaps VmFlags: dc wf rd wr ex …; grammar.md lists them all)")
      }
      return .bool
    }
  }

  private mutating func binaryType(
    _ op: BinaryOperator, _ lhs: ExprID, _ rhs: ExprID, _ e: ExprID, expecting: ValueType?
  ) -> ValueType {
    switch op {
    case .and, .or:
      expectBool(lhs, "the left side of `\(op.rawValue)`")
      expectBool(rhs, "the right side of `\(op.rawValue)`")
      return .bool
    case .equal, .notEqual:
      // A constant on one side is resolved against the other side's type.
      let l = type(of: lhs, expecting: constantHint(rhs))
      let r = type(of: rhs, expecting: constantHint(lhs) ?? (l == .unknown ? nil : l))
      if !comparable(l, r) {
        diagnostics.report(.typeMismatch, at: script[e].range, "cannot compare \(l.phrase) with \(r.phrase)")
      }
      return .bool
    case .less, .lessEqual, .greater, .greaterEqual:
      expectAddress(lhs, "the left side of `\(op.rawValue)`")
      expectAddress(rhs, "the right side of `\(op.rawValue)`")
      return .bool
    case .add, .subtract:
      expectAddress(lhs, "the left side of `\(op.rawValue)`")
      expectAddress(rhs, "the right side of `\(op.rawValue)`")
      return .int
    case .multiply, .divide:
      expectInt(lhs, "the left side of `\(op.rawValue)`")
      expectInt(rhs, "the right side of `\(op.rawValue)`")
      return .int
    case .bitOr:
      let l = type(of: lhs, expecting: expecting)
      let r = type(of: rhs, expecting: expecting ?? (l == .prot ? .prot : nil))
      if l == .prot || r == .prot {
        for (side, t) in [(lhs, l), (rhs, r)] where t != .prot && t != .int && t != .unknown {
          mismatch(side, t, "a protection", "each side of `|`")
        }
        return .prot
      }
      for (side, t) in [(lhs, l), (rhs, r)] where t != .int && t != .unknown {
        mismatch(side, t, "a number or a protection", "each side of `|`")
      }
      return l == .unknown || r == .unknown ? .unknown : .int
    }
  }

  /// What an unknown constant compared with `other` should be: errno after `errno ==`.
  private func constantHint(_ other: ExprID) -> ValueType? {
    switch script[other].kind {
    case .observe(.errno, _, _): return .errno
    case .observe(.prot, _, _): return .prot
    case .constant(.errno): return .errno
    case .constant(.prot): return .prot
    case .constant(.advice): return .advice
    default: return nil
    }
  }

  private func comparable(_ a: ValueType, _ b: ValueType) -> Bool {
    if a == .unknown || b == .unknown { return true }
    if a.isAddress && b.isAddress { return true }
    if a == b { return true }
    let withInt: Set<ValueType> = [.contents, .prot, .errno, .advice, .vmFlags]
    return (withInt.contains(a) && b == .int) || (withInt.contains(b) && a == .int)
  }
}
