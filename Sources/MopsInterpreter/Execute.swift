import MopsABI
import MopsBackend
import MopsSyntax

extension Interpreter {
  func execute(_ statements: [Statement]) throws(Stop) {
    for s in statements { try execute(s) }
  }

  func execute(_ s: Statement) throws(Stop) {
    backend.setTag(line(of: s.range))
    do {
      try run(s)
    } catch let fault as RuntimeFault {
      try fail(.runtimeFault, at: fault.range, fault.message)
    } catch let d as Disagreement {
      report.failures.append(Diagnostic(.disagreement, .error, at: s.range, d.message))
      throw Stop()
    } catch let stop as Stop {
      throw stop
    } catch {
      try fail(.runtimeFault, at: s.range, "\(error)")
    }
  }

  private func run(_ s: Statement) throws {
    switch s.kind {
    case .mmap(let m):
      let length = try int(m.length)
      let addr = try m.address.map { try address($0) } ?? VirtAddr(0)
      let prot = try m.prot.map { try protValue($0) } ?? .readWrite
      let flags = try m.flags.raw.map { MapFlags(rawValue: UInt32(truncatingIfNeeded: try int($0))) } ?? m.wordFlags
      let o = try perform(.mmap(addr: addr, length: length, prot: prot, flags: flags), s)
      if let b = m.binding { bind(b, o, s) { .range(VirtAddr($0), pageAlignUp(length) ?? length) } }
    case .munmap(let target):
      let (a, l) = try range(target)
      _ = try perform(.munmap(addr: a, length: l), s)
    case .mprotect(let target, let prot):
      let (a, l) = try range(target)
      _ = try perform(.mprotect(addr: a, length: l, prot: try protValue(prot)), s)
    case .madvise(let target, let advice):
      let (a, l) = try range(target)
      _ = try perform(.madvise(addr: a, length: l, advice: try adviceValue(advice)), s)
    case .mremap(let m):
      let (a, l) = try range(m.target)
      let newLength = try m.newLength.map { try int($0) } ?? l
      let newAddr = try m.newAddress.map { try address($0) } ?? VirtAddr(0)
      let flags = try m.flags.raw.map { MremapFlags(rawValue: UInt32(truncatingIfNeeded: try int($0))) } ?? m.flags.words
      let o = try perform(
        .mremap(oldAddr: a, oldLength: l, newLength: newLength, flags: flags, newAddr: newAddr), s)
      let moved: (UInt64) -> Value = { .range(VirtAddr($0), pageAlignUp(newLength) ?? newLength) }
      if case .name(let n) = node(m.target).kind, let c = checked, c.kind(of: n) == .region, o?.result == .ok {
        values[c.binding(for: n)] = moved(o!.value ?? a.rawValue)
      }
      if let b = m.binding { bind(b, o, s, moved) }
    case .touch(let target, let access):
      let (a, l) = try range(target)
      let fill: UInt8?
      let write: Bool
      switch access {
      case .read:
        write = false
        fill = nil
      case .write(let f):
        write = true
        fill = try f.map { try byte($0) }
      }
      try performEach(pagesOf: a, l, s) { .touch(addr: $0, write: write, fill: fill) }
    case .write(let addrExpr, let data):
      var bytes: [UInt8] = []
      for d in data {
        switch try eval(d) {
        case .string(let b): bytes += b
        default: bytes.append(try byte(d))
        }
      }
      _ = try perform(.writeBytes(addr: try address(addrExpr), bytes: bytes), s)
    case .read(let target):
      let (a, l) = try range(target)
      guard l <= 1 << 24 else { throw RuntimeFault(message: "read of \(l) bytes is too large (at most 16M)", range: span(target)) }
      _ = try perform(.readBytes(addr: a, count: Int(l)), s)
    case .fork(let binding):
      let o = try perform(.fork, s)
      if let o, o.result == .ok, let v = o.value {
        let child = PID(Int32(truncatingIfNeeded: v))
        processNames[child] = binding.map(text) ?? "child of \(processName(current))"
        forkLines[child] = line(of: s.range)
      }
      if let b = binding { bind(b, o, s) { .process(PID(Int32(truncatingIfNeeded: $0))) } }
    case .exit(let process):
      let pid = try process.map { try processValue($0) } ?? current
      _ = try perform(.exit, s, in: pid)
    case .on(let process, let body, _):
      let pid = try processValue(process)
      let saved = current
      current = pid
      defer { current = saved }
      try execute(body)
    case .forLoop(let loop):
      let lo = try int(loop.lower)
      let hi = try int(loop.upper)
      let id = checked!.binding(for: loop.variable)
      var i = lo
      while loop.inclusive ? i <= hi : i < hi {
        values[id] = .int(i)
        try execute(loop.body)
        if i == UInt64.max { break }
        i += 1
      }
    case .userfaultfd(let binding, let flags):
      let raw = try flags.raw.map { Int32(truncatingIfNeeded: try int($0)) } ?? flags.words.rawValue
      let o = try perform(.userfaultfd(flags: raw), s)
      if let b = binding { bind(b, o, s) { .uffd(UffdHandle(rawValue: Int32(truncatingIfNeeded: $0))) } }
    case .api(let uffd, let version, let features):
      let api = try version.map { try int($0) } ?? 0xAA
      let f = try features.raw.map { UffdFeatures(rawValue: try int($0)) } ?? features.words
      _ = try perform(.uffdioAPI(uffd: try uffdValue(uffd), api: api, features: f), s)
    case .register(let uffd, let target, let mode):
      let (a, l) = try range(target)
      // No mode word and no raw mode means MISSING (grammar.md).
      let m = try mode.raw.map { UffdRegisterMode(rawValue: try int($0)) } ?? (mode.words.isEmpty ? .missing : mode.words)
      _ = try perform(.uffdioRegister(uffd: try uffdValue(uffd), start: a, length: l, mode: m), s)
    case .unregister(let uffd, let target):
      let (a, l) = try range(target)
      _ = try perform(.uffdioUnregister(uffd: try uffdValue(uffd), start: a, length: l), s)
    case .close(let uffd):
      _ = try perform(.closeUffd(uffd: try uffdValue(uffd)), s)
    case .remap(let dst, let src, let uffd, let mode):
      let (d, sAddr, l) = try movePair(dst, src, s)
      let m = try mode.raw.map { UffdioMoveMode(rawValue: try int($0)) } ?? mode.words
      _ = try perform(.uffdioMove(uffd: try uffdValue(uffd), dst: d, src: sAddr, length: l, mode: m), s)
    case .remapAnonPages(let dst, let src, let flags):
      let (d, sAddr, l) = try movePair(dst, src, s)
      let f = try flags.raw.map { RemapAnonPagesFlags(rawValue: try int($0)) } ?? flags.words
      _ = try perform(.remapAnonPages(dst: d, src: sAddr, length: l, flags: f), s)
    case .copy(let dst, let src, let uffd, let mode):
      let (d, sAddr, l) = try movePair(dst, src, s)
      let m = try mode.raw.map { UffdioCopyMode(rawValue: try int($0)) } ?? mode.words
      _ = try perform(.uffdioCopy(uffd: try uffdValue(uffd), dst: d, src: sAddr, length: l, mode: m), s)
    case .zeropage(let dst, let uffd, let mode):
      let (d, l) = try range(dst)
      let m = try mode.raw.map { UffdioCopyMode(rawValue: try int($0)) } ?? mode.words
      _ = try perform(.uffdioZeropage(uffd: try uffdValue(uffd), dst: d, length: l, mode: m), s)
    case .pin(let target):
      let (a, l) = try range(target)
      _ = try perform(.pin(addr: a, length: l), s)
    case .unpin(let target):
      let (a, l) = try range(target)
      _ = try perform(.unpin(addr: a, length: l), s)
    case .assert(let condition, let message):
      try assertion(condition, message, s)
    case .print(let exprs):
      var parts: [String] = []
      for e in exprs { parts.append(describe(try eval(e))) }
      output(parts.joined(separator: " "))
    case .show(let view):
      output(try text(of: view))
    case .expect(let view, let lines):
      try expectView(view, lines, s)
    case .capture(let name, let expr):
      values[checked!.binding(for: name)] = try eval(expr)
    case .invalid:
      throw RuntimeFault(message: "this statement did not parse", range: s.range)
    }
  }

  /// Binds `name` to the value made from a successful outcome's return value, or
  /// records why it has none.
  func bind(_ name: Name, _ o: OpOutcome?, _ s: Statement, _ make: (UInt64) -> Value) {
    let id = checked!.binding(for: name)
    if let o, o.result == .ok {
      values[id] = make(o.value ?? 0)
      unbound[id] = nil
    } else {
      values[id] = nil
      unbound[id] = "`\(text(name))` has no value: the statement at line \(line(of: s.range)) that binds it did not succeed"
    }
  }

  /// The destination, source and length of a move or copy: the length is that of the
  /// side that is a range; two ranges must have equal lengths (grammar.md).
  func movePair(_ dst: ExprID, _ src: ExprID, _ s: Statement) throws -> (VirtAddr, VirtAddr, UInt64) {
    let d = try eval(dst)
    let sv = try eval(src)
    let dAddr = try addressOf(d, span(dst))
    let sAddr = try addressOf(sv, span(src))
    switch (d, sv) {
    case (.range(_, let dl), .range(_, let sl)) where dl != sl:
      throw RuntimeFault(
        message: "the destination is \(dl) bytes but the source \(sl); give both sides the same length, or one side as an address",
        range: s.range)
    case (.range(_, let l), _), (_, .range(_, let l)): return (dAddr, sAddr, l)
    default:
      throw RuntimeFault(message: "neither side of the move says how many bytes; write a range such as `dst[0...3]`", range: s.range)
    }
  }

  /// Performs one operation per page of `[addr, addr + length)` in order, stopping at
  /// the first that does not succeed; the statement's expectation applies to that one
  /// (or to the last if all succeed).
  func performEach(pagesOf addr: VirtAddr, _ length: UInt64, _ s: Statement, _ op: (VirtAddr) -> Operation) throws {
    let pages = max(1, (length + (addr.rawValue & (pageSize - 1)) + pageSize - 1) / pageSize)
    var page = addr.pageDown
    var outcome = OpOutcome.ok
    for i in 0..<pages {
      let o = try rawPerform(op(i == 0 ? addr : page), s, in: current)
      outcome = o
      if o.result != .ok { break }
      page += pageSize
    }
    try check(outcome, s, op(addr))
  }

  /// Performs `op` in the current (or given) process and checks its outcome against
  /// the statement's expectation. Returns the outcome.
  @discardableResult
  func perform(_ op: Operation, _ s: Statement, in pid: PID? = nil) throws -> OpOutcome? {
    let o = try rawPerform(op, s, in: pid ?? current)
    try check(o, s, op)
    return o
  }

  func rawPerform(_ op: Operation, _ s: Statement, in pid: PID) throws -> OpOutcome {
    guard backend.processes.contains(pid) else {
      throw RuntimeFault(message: "\(processName(pid)) has exited; it can run no more statements", range: s.range)
    }
    do {
      return try backend.perform(op, in: pid)
    } catch where error.isDisagreement {
      throw Disagreement(message: error.message)
    } catch {
      throw RuntimeFault(message: error.message, range: s.range)
    }
  }
}
