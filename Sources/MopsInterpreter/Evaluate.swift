import MopsABI
import MopsBackend
import MopsSyntax

extension Interpreter {
  // MARK: Typed evaluation

  func eval(_ e: ExprID) throws -> Value {
    switch node(e).kind {
    case .integer(let v): return .int(v)
    case .boolean(let b): return .bool(b)
    case .string(let s): return .string(checked!.script.strings[Int(s)])
    case .name(let n):
      let id = checked!.binding(for: n)
      if let v = values[id] { return v }
      throw RuntimeFault(message: unbound[id] ?? "`\(text(n))` has no value yet", range: span(e))
    case .constant(let c):
      switch c {
      case .errno(let x): return .errno(x)
      case .prot(let x): return .prot(x)
      case .advice(let x): return .advice(x)
      case .unknown(let name): throw RuntimeFault(message: "unknown constant \(name)", range: span(e))
      }
    case .not(let x):
      return .bool(!(try bool(x)))
    case .binary(let op, let l, let r):
      return try binary(op, l, r, span(e))
    case .pages(let n):
      let (v, o) = try int(n).multipliedReportingOverflow(by: pageSize)
      if o { throw RuntimeFault(message: "page count overflows 64 bits", range: span(e)) }
      return .int(v)
    case .page(let base, let index):
      let start = try address(base)
      let i = try int(index)
      return .range(try offset(start, pages: i, span(e)), pageSize)
    case .pageRange(let base, let lower, let upper, let inclusive):
      let start = try address(base)
      let lo = try int(lower)
      let hi = try int(upper)
      let end = inclusive ? hi &+ 1 : hi
      guard end > lo, !(inclusive && hi == .max) else {
        throw RuntimeFault(message: "empty or reversed page range [\(lo)\(inclusive ? "..." : "..<")\(hi)]", range: span(e))
      }
      return .range(try offset(start, pages: lo, span(e)), (end - lo) * pageSize)
    case .span(let a, let length):
      return .range(try address(a), try int(length))
    case .observe(let obs, let operand, let process):
      let pid = try process.map { try processValue($0) } ?? current
      return try observe(obs, operand, in: pid, span(e))
    case .cost(let index):
      let name = KernelNames.costCounters[Int(index)]
      guard let cost = backend.cost else {
        throw Unobservable(reason: "cost counters exist only on the sim backend (this is \(backend.name))")
      }
      guard let v = cost.fields.first(where: { $0.0 == name })?.1 else {
        throw RuntimeFault(message: "unknown cost counter \(name)", range: span(e))
      }
      return .int(UInt64(v))
    case .has(let x, let words):
      guard case .vmFlags(let flags) = try eval(x) else {
        throw RuntimeFault(message: "`has` needs VMA flags, such as `flags r has dc`", range: span(x))
      }
      let wanted = checked!.script.words(words).reduce(into: VMFlags()) { $0.formUnion($1.flag ?? []) }
      return .bool(flags.isSuperset(of: wanted))
    }
  }

  func offset(_ start: VirtAddr, pages i: UInt64, _ range: SourceRange) throws -> VirtAddr {
    let (bytes, o1) = i.multipliedReportingOverflow(by: pageSize)
    let (a, o2) = start.rawValue.addingReportingOverflow(bytes)
    if o1 || o2 { throw RuntimeFault(message: "page index \(i) overflows the address space", range: range) }
    return VirtAddr(a)
  }

  func binary(_ op: BinaryOperator, _ l: ExprID, _ r: ExprID, _ range: SourceRange) throws -> Value {
    switch op {
    case .and: return .bool(try bool(l) && bool(r))
    case .or: return .bool(try bool(l) || bool(r))
    case .equal, .notEqual:
      let eq = try equal(try eval(l), try eval(r), range)
      return .bool(op == .equal ? eq : !eq)
    case .less, .lessEqual, .greater, .greaterEqual:
      let a = try int(l)
      let b = try int(r)
      switch op {
      case .less: return .bool(a < b)
      case .lessEqual: return .bool(a <= b)
      case .greater: return .bool(a > b)
      default: return .bool(a >= b)
      }
    case .bitOr:
      let a = try eval(l)
      let b = try eval(r)
      if case .prot(let x) = a, case .prot(let y) = b { return .prot(x.union(y)) }
      return .int(try intOf(a, span(l)) | intOf(b, span(r)))
    case .add, .subtract, .multiply, .divide:
      let a = try int(l)
      let b = try int(r)
      let (v, o): (UInt64, Bool)
      switch op {
      case .add: (v, o) = a.addingReportingOverflow(b)
      case .subtract: (v, o) = a.subtractingReportingOverflow(b)
      case .multiply: (v, o) = a.multipliedReportingOverflow(by: b)
      default:
        guard b != 0 else { throw RuntimeFault(message: "division by zero", range: range) }
        (v, o) = (a / b, false)
      }
      if o { throw RuntimeFault(message: "\(hex(a)) \(op.rawValue) \(hex(b)) overflows 64 bits", range: range) }
      return .int(v)
    }
  }

  /// Equality with the language's conversions: contents equal a byte when every byte
  /// of the page is that byte; a range compares by its start.
  func equal(_ a: Value, _ b: Value, _ range: SourceRange) throws -> Bool {
    switch (a, b) {
    case (.contents(let c), .int(let v)), (.int(let v), .contents(let c)):
      return c.bytes.isEmpty && UInt64(c.fill) == v
    case (.contents(let c), .string(let s)), (.string(let s), .contents(let c)):
      return s.enumerated().allSatisfy { c[UInt16($0.offset)] == $0.element }
    case (.range(let x, _), .int(let v)), (.int(let v), .range(let x, _)):
      return x.rawValue == v
    case (.errno(let e), .int(let v)), (.int(let v), .errno(let e)):
      return UInt64(e.rawValue) == v
    default:
      return a == b
    }
  }

  // MARK: Observations

  func observe(_ obs: Observation, _ operand: ExprID?, in pid: PID, _ range: SourceRange) throws -> Value {
    guard backend.processes.contains(pid) || !obs.dependsOnProcess else {
      throw RuntimeFault(message: "\(processName(pid)) has exited; there is nothing to observe", range: range)
    }
    switch obs {
    case .frame, .mapcount, .exclusive, .anonExclusive, .present, .zeropage, .pteNone, .writable, .contents, .byte:
      let addr = try address(operand!)
      let p = try page(pid, addr, range)
      switch obs {
      case .present: return .bool(p.state != .none)
      case .zeropage: return .bool(p.state == .zeroPage)
      case .pteNone: return .bool(p.state == .none)
      case .frame:
        if p.state == .none { return .frame(nil) }
        guard let pfn = p.pfn else { throw unavailable("frame numbers") }
        return .frame(pfn)
      case .mapcount:
        if p.state == .none { return .int(0) }
        guard let m = p.mapcount else { throw unavailable("mapcounts") }
        return .int(UInt64(m))
      case .exclusive:
        if p.state == .none { return .bool(false) }
        guard let x = p.exclusive else { throw unavailable("exclusivity") }
        return .bool(x)
      case .anonExclusive:
        if p.state != .present { return .bool(false) }
        guard let x = p.anonExclusive ?? (p.shared ? false : nil) else { throw unavailable("anon-exclusivity") }
        return .bool(x)
      case .writable:
        if p.state == .none { return .bool(false) }
        guard let w = p.writable else {
          throw Unobservable(reason: "PTE writability is not visible through /proc on the \(backend.name) backend")
        }
        return .bool(w)
      default:
        // An empty PTE reads as zeros; a mapped page whose contents the backend did not
        // observe (the linux backend cannot load a page of a VMA without PROT_READ
        // without a fault) is unobservable, never zero by default.
        let contents: PageContents
        if p.state == .none {
          contents = .zero
        } else if let c = p.contents {
          contents = c
        } else {
          throw Unobservable(
            reason: "the contents of the page at \(p.addr) were not observed on the \(backend.name) backend (it reads only pages it can load without a fault: present pages of readable VMAs)")
        }
        if obs == .contents { return .contents(contents) }
        return .int(UInt64(contents[UInt16(addr.rawValue & (pageSize - 1))]))
      }
    case .flags, .prot, .mapped, .vmaStart, .vmaEnd:
      let addr = try address(operand!)
      let vma = try vmas(pid, range).first { $0.start <= addr && addr < $0.end }
      if obs == .mapped { return .bool(vma != nil) }
      guard let vma else { throw RuntimeFault(message: "no VMA of \(processName(pid)) contains \(addr)", range: range) }
      switch obs {
      case .flags: return .vmFlags(vma.flags)
      case .prot: return .prot(vma.prot)
      case .vmaStart: return .int(vma.start.rawValue)
      default: return .int(vma.end.rawValue)
      }
    case .size:
      return .int(try self.range(operand!).1)
    case .vmas:
      return .int(UInt64(try info(pid, range).vmaCount))
    case .rss:
      return .int(UInt64(try info(pid, range).rssPages))
    case .anonPages:
      return .int(UInt64(try info(pid, range).anonPages))
    case .moved:
      return .int(lastOutcome?.bytesDone ?? 0)
    case .errno:
      return .errno(lastOutcome?.errno ?? Errno(rawValue: 0))
    case .result:
      return .int(lastOutcome?.value ?? 0)
    }
  }

  func unavailable(_ what: String) -> Unobservable {
    Unobservable(reason: "\(what) are unavailable on the \(backend.name) backend: \(backend.capabilities.unavailableReason ?? "not observable")")
  }

  func page(_ pid: PID, _ addr: VirtAddr, _ range: SourceRange) throws -> PageInfo {
    do {
      guard let p = try backend.pages(of: pid, at: addr, count: 1).first else {
        throw RuntimeFault(message: "no page at \(addr)", range: range)
      }
      if p.state == .zeroPage, let pfn = p.pfn { zeroPFNSeen = pfn }
      return p
    } catch let e as BackendError {
      throw RuntimeFault(message: e.message, range: range)
    }
  }

  func vmas(_ pid: PID, _ range: SourceRange) throws -> [VMAInfo] {
    do { return try backend.vmas(of: pid) } catch { throw RuntimeFault(message: error.message, range: range) }
  }

  func info(_ pid: PID, _ range: SourceRange) throws -> ProcessInfo {
    do { return try backend.processInfo(pid) } catch { throw RuntimeFault(message: error.message, range: range) }
  }

  // MARK: Conversions

  func int(_ e: ExprID) throws -> UInt64 { try intOf(try eval(e), span(e)) }

  func intOf(_ v: Value, _ range: SourceRange) throws -> UInt64 {
    switch v {
    case .int(let x): return x
    case .range(let a, _): return a.rawValue
    case .bool(let b): return b ? 1 : 0
    case .prot(let p): return UInt64(p.rawValue)
    case .errno(let e): return UInt64(e.rawValue)
    case .advice(let a): return UInt64(UInt32(bitPattern: a.rawValue))
    default: throw RuntimeFault(message: "expected a number, found \(describe(v))", range: range)
    }
  }

  func bool(_ e: ExprID) throws -> Bool {
    guard case .bool(let b) = try eval(e) else {
      throw RuntimeFault(message: "expected a condition", range: span(e))
    }
    return b
  }

  func address(_ e: ExprID) throws -> VirtAddr { try addressOf(try eval(e), span(e)) }

  func addressOf(_ v: Value, _ range: SourceRange) throws -> VirtAddr {
    switch v {
    case .range(let a, _): return a
    case .int(let x): return VirtAddr(x)
    default: throw RuntimeFault(message: "expected an address, found \(describe(v))", range: range)
    }
  }

  /// A range operand: a region or range as it is; a bare address means one page.
  func range(_ e: ExprID) throws -> (VirtAddr, UInt64) {
    switch try eval(e) {
    case .range(let a, let l): return (a, l)
    case .int(let x): return (VirtAddr(x), pageSize)
    case let v: throw RuntimeFault(message: "expected a range, found \(describe(v))", range: span(e))
    }
  }

  func byte(_ e: ExprID) throws -> UInt8 {
    let v = try int(e)
    guard v <= 0xff else { throw RuntimeFault(message: "\(v) does not fit in a byte", range: span(e)) }
    return UInt8(v)
  }

  func protValue(_ e: ExprID) throws -> Prot {
    switch try eval(e) {
    case .prot(let p): return p
    case .int(let x): return Prot(rawValue: UInt32(truncatingIfNeeded: x))
    case let v: throw RuntimeFault(message: "expected a protection, found \(describe(v))", range: span(e))
    }
  }

  func adviceValue(_ e: ExprID) throws -> Advice {
    switch try eval(e) {
    case .advice(let a): return a
    case .int(let x): return Advice(rawValue: Int32(truncatingIfNeeded: x))
    case let v: throw RuntimeFault(message: "expected an advice, found \(describe(v))", range: span(e))
    }
  }

  func processValue(_ n: Name) throws -> PID {
    let id = checked!.binding(for: n)
    guard case .process(let pid)? = values[id] else {
      throw RuntimeFault(message: unbound[id] ?? "`\(text(n))` is not a process", range: n.range)
    }
    return pid
  }

  func uffdValue(_ n: Name) throws -> UffdHandle {
    let id = checked!.binding(for: n)
    guard case .uffd(let h)? = values[id] else {
      throw RuntimeFault(message: unbound[id] ?? "`\(text(n))` is not a userfaultfd", range: n.range)
    }
    return h
  }

  // MARK: Printing values

  func frameLabel(_ pfn: PFN) -> String {
    if pfn == zeroPFNSeen { return "zero" }
    if let l = frameLabels[pfn] { return "#\(l)" }
    let l = frameLabels.count + 1
    frameLabels[pfn] = l
    return "#\(l)"
  }

  func describe(_ v: Value) -> String {
    switch v {
    case .int(let x): return x > 0xffff ? hex(x) : String(x)
    case .bool(let b): return b ? "true" : "false"
    case .frame(let pfn): return pfn.map { "frame \(frameLabel($0)) (pfn \(hex($0.rawValue)))" } ?? "no frame"
    case .contents(let c): return c.description
    case .vmFlags(let f): return f.smapsText.isEmpty ? "(none)" : f.smapsText
    case .prot(let p): return p.rwx
    case .errno(let e): return e.rawValue == 0 ? "no errno" : e.name
    case .advice(let a): return a.description
    case .string(let s): return "\"" + String(decoding: s, as: UTF8.self) + "\""
    case .range(let a, let l): return "\(a)+\(l >= pageSize && l % pageSize == 0 ? "\(l / pageSize) page\(l == pageSize ? "" : "s")" : "\(l) bytes")"
    case .process(let p): return "\(processName(p)) (pid \(p.rawValue))"
    case .uffd(let h): return "userfaultfd \(h.rawValue)"
    }
  }
}
