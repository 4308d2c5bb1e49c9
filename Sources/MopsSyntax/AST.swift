import MopsABI

// The syntax tree: value types only, every node with its source range. The parser
// builds it; the checker resolves its names into a side table (`CheckedScript`); the
// interpreter walks it. Names of cases follow grammar.md.

/// A parsed script: statements in order, the expression nodes they refer to, and
/// the file's `# mops:` directives.
///
/// Expressions live in one array (``exprs``) and refer to each other by ``ExprID``:
/// a node is a small plain struct, so building and walking them allocates nothing
/// per node. Read a node with `script[id]`.
public struct Script: Hashable, Sendable {
  public var statements: [Statement]
  public var directives: [Directive]
  /// Every expression node; ``ExprID`` indexes this.
  public var exprs: [Expr]
  /// The bytes of each string literal (``ExprKind/string(_:)`` indexes this).
  public var strings: [[UInt8]]
  /// The words after every `has` (``ExprKind/has(_:words:)`` gives a slice of this).
  public var flagWords: [FlagWord]
  /// The distinct spellings of names, flag words and unknown constants, by symbol.
  public var symbolTable: SymbolTable
  /// How many ``Name`` occurrences the parser numbered (``Name/slot`` is below this).
  public var nameSlotCount: Int

  public init(
    statements: [Statement], directives: [Directive], exprs: [Expr], strings: [[UInt8]], flagWords: [FlagWord],
    symbolTable: SymbolTable, nameSlotCount: Int
  ) {
    self.statements = statements
    self.directives = directives
    self.exprs = exprs
    self.strings = strings
    self.flagWords = flagWords
    self.symbolTable = symbolTable
    self.nameSlotCount = nameSlotCount
  }

  /// The spelling of each symbol.
  public var symbols: [String] { symbolTable.names }

  /// The expression node `id`.
  public subscript(id: ExprID) -> Expr { exprs[Int(id.index)] }
  /// The spelling of a name.
  public func text(_ name: Name) -> String { symbols[name.symbolIndex] }
  /// The words of a `has` expression.
  public func words(_ slice: FlagWordSlice) -> ArraySlice<FlagWord> {
    flagWords[Int(slice.start)..<Int(slice.start + slice.count)]
  }
}

/// One occurrence of a name (`src`, `child`, `u`), binding or use. Its spelling is
/// `script.symbols[symbol]` (``Script/text(_:)``).
public struct Name: Hashable, Sendable {
  public var range: SourceRange
  /// The index of this occurrence in ``CheckedScript/resolutions``.
  public var slot: Int32
  /// The spelling's index in ``Script/symbols``: equal texts have equal symbols.
  public var symbol: Int32

  public init(_ range: SourceRange, slot: Int32, symbol: Int32) {
    self.range = range
    self.slot = slot
    self.symbol = symbol
  }
  /// The spelling's index in ``Script/symbols`` as an `Int`.
  public var symbolIndex: Int { Int(symbol) }
}

/// One statement: what it does, where it is, and the outcome the script expects.
public struct Statement: Hashable, Sendable {
  public var kind: StatementKind
  public var range: SourceRange
  /// `=> EBUSY` and friends; nil means "must succeed" for operations.
  public var outcome: ExpectedOutcome?

  public init(_ kind: StatementKind, _ range: SourceRange, outcome: ExpectedOutcome? = nil) {
    self.kind = kind
    self.range = range
    self.outcome = outcome
  }
}

/// Every statement of the language (grammar.md, "Statements").
public enum StatementKind: Hashable, Sendable {
  /// `[NAME =] mmap SIZE [at ADDR] [prot PROT] [shared|fixed|noreplace|…] [flags N]`
  case mmap(Mmap)
  /// `munmap TARGET`
  case munmap(target: ExprID)
  /// `mprotect TARGET PROT`
  case mprotect(target: ExprID, prot: ExprID)
  /// `madvise TARGET ADVICE`
  case madvise(target: ExprID, advice: ExprID)
  /// `[NAME =] mremap TARGET [to SIZE] [at ADDR] [maymove|fixed|dontunmap] [flags N]`
  case mremap(Mremap)
  /// `touch TARGET [read | write [BYTE]]`: one access per page of the target.
  case touch(target: ExprID, access: Access)
  /// `write ADDR DATA…`: byte-level store of strings and byte values.
  case write(address: ExprID, data: [ExprID])
  /// `read TARGET`: byte-level load of every byte of the target.
  case read(target: ExprID)
  /// `[NAME =] fork`
  case fork(binding: Name?)
  /// `exit [PROCESS]`
  case exit(process: Name?)
  /// `on PROCESS { … }` (`isBlock`) or `on PROCESS STATEMENT`.
  case on(process: Name, body: [Statement], isBlock: Bool)
  /// `for NAME in A...B { … }` / `A..<B`
  case forLoop(ForLoop)
  /// `[NAME =] userfaultfd [nonblock|cloexec|user_mode_only] [flags N]`
  case userfaultfd(binding: Name?, flags: Options<UserfaultfdFlags>)
  /// `api UFFD [version N] [features WORD… | features N]` (UFFDIO_API); the version
  /// defaults to UFFD_API (0xAA), the features to none.
  case api(uffd: Name, version: ExprID?, features: Options<UffdFeatures>)
  /// `register UFFD TARGET [missing|wp|minor] [mode N]` (UFFDIO_REGISTER); without a
  /// mode word or `mode N` the mode is MISSING.
  case register(uffd: Name, target: ExprID, mode: Options<UffdRegisterMode>)
  /// `unregister UFFD TARGET` (UFFDIO_UNREGISTER)
  case unregister(uffd: Name, target: ExprID)
  /// `close UFFD`
  case close(uffd: Name)
  /// `remap DST <- SRC via UFFD [allow_src_holes] [dontwake] [mode N]` (UFFDIO_MOVE)
  case remap(dst: ExprID, src: ExprID, uffd: Name, mode: Options<UffdioMoveMode>)
  /// `remap_anon_pages DST <- SRC [allow_src_holes] [flags N]` (the 2014 syscall)
  case remapAnonPages(dst: ExprID, src: ExprID, flags: Options<RemapAnonPagesFlags>)
  /// `copy DST <- SRC via UFFD [dontwake] [wp] [mode N]` (UFFDIO_COPY)
  case copy(dst: ExprID, src: ExprID, uffd: Name, mode: Options<UffdioCopyMode>)
  /// `zeropage DST via UFFD [dontwake] [mode N]` (UFFDIO_ZEROPAGE)
  case zeropage(dst: ExprID, uffd: Name, mode: Options<UffdioCopyMode>)
  /// `pin TARGET` (FOLL_PIN | FOLL_LONGTERM, like an io_uring fixed buffer)
  case pin(target: ExprID)
  /// `unpin TARGET`
  case unpin(target: ExprID)
  /// `assert CONDITION [, "message"]`
  case assert(condition: ExprID, message: String?)
  /// `print EXPR {, EXPR}`
  case print([ExprID])
  /// `show VIEW`
  case show(View)
  /// `expect VIEW { lines }`: the view's text must equal the lines.
  case expect(View, lines: [ExpectedLine])
  /// `[let] NAME = EXPR`: captures a value now.
  case capture(Name, ExprID)
  /// A statement the parser could not read (already diagnosed). Keeps the name it
  /// would have bound, so later uses do not cascade into "undefined name" errors.
  case invalid(binding: Name?)

  /// Whether the statement performs a system call or memory access (and so may carry
  /// an expected outcome).
  public var isOperation: Bool {
    switch self {
    case .on, .forLoop, .assert, .print, .show, .expect, .capture, .invalid: return false
    default: return true
    }
  }
}

/// `mmap` operands. Unless `flags N` gives the raw value, the interpreter passes
/// ``wordFlags`` (the words plus MAP_ANONYMOUS, and MAP_PRIVATE if no type was given).
public struct Mmap: Hashable, Sendable {
  public var binding: Name?
  public var length: ExprID
  /// `at ADDR`: a hint, or the exact address with `fixed`/`noreplace`.
  public var address: ExprID?
  /// `prot PROT`; nil means READ|WRITE.
  public var prot: ExprID?
  public var flags: Options<MapFlags>

  public init(binding: Name?, length: ExprID, address: ExprID?, prot: ExprID?, flags: Options<MapFlags>) {
    self.binding = binding
    self.length = length
    self.address = address
    self.prot = prot
    self.flags = flags
  }

  /// The MAP_* flags the words stand for: MAP_ANONYMOUS always, MAP_PRIVATE unless a
  /// mapping type (`shared`, `private`, `shared_validate`, `droppable`) was named.
  public var wordFlags: MapFlags {
    var f = flags.words
    f.insert(.anonymous)
    if f.mapType == 0 { f.insert(.private) }
    return f
  }
}

/// `mremap` operands. The old range is the target; `to` gives the new size (default:
/// the old size); `at` the new address (used with `fixed` or as `dontunmap`'s hint).
public struct Mremap: Hashable, Sendable {
  public var binding: Name?
  public var target: ExprID
  public var newLength: ExprID?
  public var newAddress: ExprID?
  public var flags: Options<MremapFlags>

  public init(binding: Name?, target: ExprID, newLength: ExprID?, newAddress: ExprID?, flags: Options<MremapFlags>) {
    self.binding = binding
    self.target = target
    self.newLength = newLength
    self.newAddress = newAddress
    self.flags = flags
  }
}

/// Flag words of a statement plus the raw escape hatch (`flags N`, `mode N`,
/// `features N`) that passes any number, including bits the kernel rejects.
public struct Options<Flags: OptionSet & Hashable & Sendable>: Hashable, Sendable {
  /// The union of the words given.
  public var words: Flags
  /// The range of the first word given (for diagnostics); nil when none was.
  public var firstWordRange: SourceRange?
  /// The raw value, if given; it replaces the words.
  public var raw: ExprID?

  public init(words: Flags = [], firstWordRange: SourceRange? = nil, raw: ExprID? = nil) {
    self.words = words
    self.firstWordRange = firstWordRange
    self.raw = raw
  }
}

/// The flags argument of `userfaultfd(2)`.
public struct UserfaultfdFlags: OptionSet, Hashable, Sendable {
  public var rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }
  /// `UFFD_USER_MODE_ONLY`
  public static let userModeOnly = UserfaultfdFlags(rawValue: 1)
  /// `O_NONBLOCK`
  public static let nonblock = UserfaultfdFlags(rawValue: 0o4000)
  /// `O_CLOEXEC`
  public static let cloexec = UserfaultfdFlags(rawValue: 0o2000000)
}

/// The access `touch` makes on each page.
public enum Access: Hashable, Sendable {
  case read
  /// A write; with a fill byte every byte of the page is set to it.
  case write(fill: ExprID?)
}

/// `for NAME in LOWER...UPPER { body }` (or `..<`).
public struct ForLoop: Hashable, Sendable {
  public var variable: Name
  public var lower: ExprID
  public var upper: ExprID
  public var inclusive: Bool
  public var body: [Statement]

  public init(variable: Name, lower: ExprID, upper: ExprID, inclusive: Bool, body: [Statement]) {
    self.variable = variable
    self.lower = lower
    self.upper = upper
    self.inclusive = inclusive
    self.body = body
  }
}

/// What `show` prints and `expect` compares.
public enum View: Hashable, Sendable {
  /// The current process's VMAs as maps lines with smaps VmFlags.
  case maps
  /// One line per page of the target: state, frame, mapcount, exclusivity, contents.
  case pages(ExprID)
  /// The process tree.
  case tree
  /// The cost counters.
  case stats
}

/// One line of an `expect VIEW { … }` block, leading and trailing blanks removed.
public struct ExpectedLine: Hashable, Sendable {
  public var text: String
  public var range: SourceRange
  public init(_ text: String, _ range: SourceRange) {
    self.text = text
    self.range = range
  }
}

/// `=> OUTCOME [moved SIZE] [at ADDR]`
public struct ExpectedOutcome: Hashable, Sendable {
  public var kind: OutcomeKind
  /// `moved N`: bytes reported moved/copied (the `move`/`copy` field, or the
  /// remap_anon_pages return value).
  public var moved: ExprID?
  /// `at ADDR`: the faulting address of a signal or userfault.
  public var address: ExprID?
  public var range: SourceRange

  public init(kind: OutcomeKind, moved: ExprID?, address: ExprID?, range: SourceRange) {
    self.kind = kind
    self.moved = moved
    self.address = address
    self.range = range
  }
}

/// The kinds of result a statement can be expected to have.
public enum OutcomeKind: Hashable, Sendable {
  /// `ok`: success (the default for operations without `=>`).
  case ok
  /// `EEXIST`: the call failed with this errno.
  case errno(Errno)
  /// `SIGSEGV [SEGV_MAPERR]`: the access raised this signal (code nil = any code).
  case signal(signo: Int32, code: Int32?)
  /// `userfault`: the access hit a registered range and would block.
  case userfault
  /// `not modelled`: the model refuses this on purpose (e.g. THP).
  case notModelled
}

// MARK: - Expressions

/// The index of an expression node in ``Script/exprs``.
public struct ExprID: Hashable, Sendable {
  public var index: Int32
  public init(_ index: Int32) { self.index = index }
}

/// An expression node and its source range.
public struct Expr: Hashable, Sendable {
  public var kind: ExprKind
  public var range: SourceRange
  public init(_ kind: ExprKind, _ range: SourceRange) {
    self.kind = kind
    self.range = range
  }
}

/// Every expression form (grammar.md, "Expressions"). Operands are ``ExprID``s.
public enum ExprKind: Hashable, Sendable {
  /// `4096`, `0x1000`, `16K`, `'A'`
  case integer(UInt64)
  /// `true`, `false`
  case boolean(Bool)
  /// `"text"`: index into ``Script/strings`` (escapes decoded).
  case string(Int32)
  /// A region, process, uffd or captured value.
  case name(Name)
  /// `EBUSY`, `READ`, `PROT_WRITE`, `DONTFORK`, `MADV_FREE`.
  case constant(KernelConstant)
  /// `not E`
  case not(ExprID)
  /// `A op B`
  case binary(BinaryOperator, ExprID, ExprID)
  /// `N pages` / `N page`: N × 4096.
  case pages(ExprID)
  /// `R[i]`: page i of a region or range (a one-page range).
  case page(ExprID, index: ExprID)
  /// `R[i...j]` (inclusive) or `R[i..<j]`: pages of a region or range.
  case pageRange(ExprID, lower: ExprID, upper: ExprID, inclusive: Bool)
  /// `ADDR len SIZE`: the byte range starting at ADDR.
  case span(ExprID, length: ExprID)
  /// `frame R[0]`, `vmas`, `mapcount X in child` …
  case observe(Observation, ExprID?, process: Name?)
  /// `cost vma_splits`: a cost counter of the model (index into ``KernelNames/costCounters``).
  case cost(Int32)
  /// `flags R has dc wf`: all of these VMA flags are set.
  case has(ExprID, words: FlagWordSlice)
}

/// Where the words of one `has` are in ``Script/flagWords``.
public struct FlagWordSlice: Hashable, Sendable {
  public var start: Int32
  public var count: Int32
  public init(start: Int32, count: Int32) {
    self.start = start
    self.count = count
  }
}

/// A VMA-flag mnemonic after `has`; `flag` is nil when the word is not one (the
/// checker reports it).
public struct FlagWord: Hashable, Sendable {
  public var range: SourceRange
  public var flag: VMFlags?
  /// The spelling's index in ``Script/symbols``.
  public var symbol: Int32
  public init(range: SourceRange, flag: VMFlags?, symbol: Int32) {
    self.range = range
    self.flag = flag
    self.symbol = symbol
  }
}

/// An uppercase name resolved against the kernel's constants.
public enum KernelConstant: Hashable, Sendable {
  case errno(Errno)
  case prot(Prot)
  case advice(Advice)
  /// Not a known constant (its spelling is `script.symbols[symbol]`); the checker
  /// reports it with a suggestion.
  case unknown(symbol: Int32)
}

/// Binary operators, loosest first in grammar.md's precedence table.
public enum BinaryOperator: String, Hashable, Sendable {
  case or, and
  case equal = "=="
  case notEqual = "!="
  case less = "<"
  case lessEqual = "<="
  case greater = ">"
  case greaterEqual = ">="
  case bitOr = "|"
  case add = "+"
  case subtract = "-"
  case multiply = "*"
  case divide = "/"

  public var isComparison: Bool {
    switch self {
    case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual: return true
    default: return false
    }
  }
}

/// What a script can observe. None of them changes state or faults a page in.
public enum Observation: String, Hashable, Sendable, CaseIterable {
  // per page (operand: an address; the page containing it)
  case frame, mapcount, exclusive
  case anonExclusive = "anon_exclusive"
  case present, zeropage
  /// `none`: no PTE at all (pte_none).
  case pteNone = "none"
  case writable, contents, byte
  // per VMA (operand: an address inside it)
  case flags, prot, mapped
  case vmaStart = "vma_start"
  case vmaEnd = "vma_end"
  // per range (operand: a region or range)
  case size
  // per process (no operand)
  case vmas, rss
  case anonPages = "anon_pages"
  // of the last statement (no operand)
  case moved, errno, result

  /// Whether an operand follows the word.
  public var takesOperand: Bool {
    switch self {
    case .vmas, .rss, .anonPages, .moved, .errno, .result: return false
    default: return true
    }
  }

  /// Whether `in PROCESS` may follow (the observation depends on a process).
  public var dependsOnProcess: Bool {
    switch self {
    case .size, .moved, .errno, .result: return false
    default: return true
    }
  }
}

// MARK: - Directives

/// A `# mops: …` comment: how a fixture runner must treat the file.
public struct Directive: Hashable, Sendable {
  public var kind: DirectiveKind
  /// The text after the `:` that ends the arguments, if any.
  public var reason: String?
  public var range: SourceRange

  public init(kind: DirectiveKind, reason: String?, range: SourceRange) {
    self.kind = kind
    self.reason = reason
    self.range = range
  }
}

/// What a directive says.
public enum DirectiveKind: Hashable, Sendable {
  /// `skip BACKEND…: reason`: do not run on these backends.
  case skip([BackendName])
  /// `only BACKEND…: reason`: run on these backends only.
  case only([BackendName])
  /// `needs REQUIREMENT…[: reason]`: skip (with the reason) where these are missing.
  case needs([Requirement])
  /// `expect-error ID…`: `mops check` must report exactly these diagnostics.
  case expectError([DiagnosticID])
}

/// A backend as `--backend` names it.
public enum BackendName: String, Hashable, Sendable, CaseIterable {
  case sim, linux, both
}

/// Something a fixture needs from the machine it runs on.
public enum Requirement: String, Hashable, Sendable, CaseIterable {
  /// Root: PFNs in pagemap, /proc/kpagecount, /proc/kpageflags.
  case root
  /// A usable userfaultfd (syscall or /dev/userfaultfd).
  case userfaultfd
  /// io_uring, used by the live backend to pin pages.
  case ioUring = "io_uring"
  /// Transparent huge pages (`madvise` or `always`).
  case thp
}
