import MopsABI

// The syntax tree: value types only, every node with its source range. The parser
// builds it; the checker resolves its names into a side table (`CheckedScript`); the
// interpreter walks it. Names of cases follow grammar.md.

/// A parsed script: statements in order, plus the file's `# mops:` directives.
public struct Script: Hashable, Sendable {
  public var statements: [Statement]
  public var directives: [Directive]
  /// How many ``Name`` occurrences the parser numbered (``Name/slot`` is below this).
  public var nameSlotCount: Int

  public init(statements: [Statement], directives: [Directive], nameSlotCount: Int) {
    self.statements = statements
    self.directives = directives
    self.nameSlotCount = nameSlotCount
  }
}

/// One occurrence of a name (`src`, `child`, `u`), binding or use.
public struct Name: Hashable, Sendable, CustomStringConvertible {
  public var text: String
  public var range: SourceRange
  /// The index of this occurrence in ``CheckedScript/resolutions``.
  public var slot: Int

  public init(_ text: String, _ range: SourceRange, slot: Int) {
    self.text = text
    self.range = range
    self.slot = slot
  }
  public var description: String { text }
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
  case munmap(target: Expr)
  /// `mprotect TARGET PROT`
  case mprotect(target: Expr, prot: Expr)
  /// `madvise TARGET ADVICE`
  case madvise(target: Expr, advice: Expr)
  /// `[NAME =] mremap TARGET [to SIZE] [at ADDR] [maymove|fixed|dontunmap] [flags N]`
  case mremap(Mremap)
  /// `touch TARGET [read | write [BYTE]]`: one access per page of the target.
  case touch(target: Expr, access: Access)
  /// `write ADDR DATA…`: byte-level store of strings and byte values.
  case write(address: Expr, data: [Expr])
  /// `read TARGET`: byte-level load of every byte of the target.
  case read(target: Expr)
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
  /// `api UFFD [version N] [features WORD… | features N]` (UFFDIO_API)
  case api(uffd: Name, version: Expr?, features: Options<UffdFeatures>)
  /// `register UFFD TARGET [missing|wp|minor] [mode N]` (UFFDIO_REGISTER)
  case register(uffd: Name, target: Expr, mode: Options<UffdRegisterMode>)
  /// `unregister UFFD TARGET` (UFFDIO_UNREGISTER)
  case unregister(uffd: Name, target: Expr)
  /// `close UFFD`
  case close(uffd: Name)
  /// `remap DST <- SRC via UFFD [allow_src_holes] [dontwake] [mode N]` (UFFDIO_MOVE)
  case remap(dst: Expr, src: Expr, uffd: Name, mode: Options<UffdioMoveMode>)
  /// `remap_anon_pages DST <- SRC [allow_src_holes] [flags N]` (the 2014 syscall)
  case remapAnonPages(dst: Expr, src: Expr, flags: Options<RemapAnonPagesFlags>)
  /// `copy DST <- SRC via UFFD [dontwake] [wp] [mode N]` (UFFDIO_COPY)
  case copy(dst: Expr, src: Expr, uffd: Name, mode: Options<UffdioCopyMode>)
  /// `zeropage DST via UFFD [dontwake] [mode N]` (UFFDIO_ZEROPAGE)
  case zeropage(dst: Expr, uffd: Name, mode: Options<UffdioCopyMode>)
  /// `pin TARGET` (FOLL_PIN | FOLL_LONGTERM, like an io_uring fixed buffer)
  case pin(target: Expr)
  /// `unpin TARGET`
  case unpin(target: Expr)
  /// `assert CONDITION [, "message"]`
  case assert(condition: Expr, message: String?)
  /// `print EXPR {, EXPR}`
  case print([Expr])
  /// `show VIEW`
  case show(View)
  /// `expect VIEW { lines }`: the view's text must equal the lines.
  case expect(View, lines: [ExpectedLine])
  /// `[let] NAME = EXPR`: captures a value now.
  case capture(Name, Expr)
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
  public var length: Expr
  /// `at ADDR`: a hint, or the exact address with `fixed`/`noreplace`.
  public var address: Expr?
  /// `prot PROT`; nil means READ|WRITE.
  public var prot: Expr?
  public var flags: Options<MapFlags>

  public init(binding: Name?, length: Expr, address: Expr?, prot: Expr?, flags: Options<MapFlags>) {
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
  public var target: Expr
  public var newLength: Expr?
  public var newAddress: Expr?
  public var flags: Options<MremapFlags>

  public init(binding: Name?, target: Expr, newLength: Expr?, newAddress: Expr?, flags: Options<MremapFlags>) {
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
  /// The range of each word, in order (for diagnostics).
  public var wordRanges: [SourceRange]
  /// The raw value, if given; it replaces the words.
  public var raw: Expr?

  public init(words: Flags = [], wordRanges: [SourceRange] = [], raw: Expr? = nil) {
    self.words = words
    self.wordRanges = wordRanges
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
  case write(fill: Expr?)
}

/// `for NAME in LOWER...UPPER { body }` (or `..<`).
public struct ForLoop: Hashable, Sendable {
  public var variable: Name
  public var lower: Expr
  public var upper: Expr
  public var inclusive: Bool
  public var body: [Statement]

  public init(variable: Name, lower: Expr, upper: Expr, inclusive: Bool, body: [Statement]) {
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
  case pages(Expr)
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
  public var moved: Expr?
  /// `at ADDR`: the faulting address of a signal or userfault.
  public var address: Expr?
  public var range: SourceRange

  public init(kind: OutcomeKind, moved: Expr?, address: Expr?, range: SourceRange) {
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

/// An expression and its source range.
public struct Expr: Hashable, Sendable {
  public var kind: ExprKind
  public var range: SourceRange
  public init(_ kind: ExprKind, _ range: SourceRange) {
    self.kind = kind
    self.range = range
  }
}

/// Every expression form (grammar.md, "Expressions").
public enum ExprKind: Hashable, Sendable {
  /// `4096`, `0x1000`, `16K`, `'A'`
  case integer(UInt64)
  /// `true`, `false`
  case boolean(Bool)
  /// `"text"` as bytes (escapes decoded).
  case string([UInt8])
  /// A region, process, uffd or captured value.
  case name(Name)
  /// `EBUSY`, `READ`, `PROT_WRITE`, `DONTFORK`, `MADV_FREE`.
  case constant(KernelConstant)
  /// `not E`
  indirect case not(Expr)
  /// `A op B`
  indirect case binary(BinaryOperator, Expr, Expr)
  /// `N pages` / `N page`: N × 4096.
  indirect case pages(Expr)
  /// `R[i]`: page i of a region or range (a one-page range).
  indirect case page(Expr, index: Expr)
  /// `R[i...j]` (inclusive) or `R[i..<j]`: pages of a region or range.
  indirect case pageRange(Expr, lower: Expr, upper: Expr, inclusive: Bool)
  /// `ADDR len SIZE`: the byte range starting at ADDR.
  indirect case span(Expr, length: Expr)
  /// `frame R[0]`, `vmas`, `mapcount X in child` …
  indirect case observe(Observation, Expr?, process: Name?)
  /// `cost vma_splits`: a cost counter of the model.
  case cost(String)
  /// `flags R has dc wf`: all of these VMA flags are set.
  indirect case has(Expr, [FlagWord])
}

/// A VMA-flag mnemonic after `has`; `flag` is nil when the word is not one (the
/// checker reports it).
public struct FlagWord: Hashable, Sendable {
  public var text: String
  public var range: SourceRange
  public var flag: VMFlags?
  public init(text: String, range: SourceRange, flag: VMFlags?) {
    self.text = text
    self.range = range
    self.flag = flag
  }
}

/// An uppercase name resolved against the kernel's constants.
public enum KernelConstant: Hashable, Sendable {
  case errno(Errno)
  case prot(Prot)
  case advice(Advice)
  /// Not a known constant; the checker reports it with a suggestion.
  case unknown(String)
}

/// Binary operators, loosest first in grammar.md's precedence table.
public enum BinaryOperator: String, Hashable, Sendable {
  case or, and
  case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
  case bitOr = "|"
  case add = "+", subtract = "-"
  case multiply = "*", divide = "/"

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
  case present, zeropage, none, writable, contents, byte
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
