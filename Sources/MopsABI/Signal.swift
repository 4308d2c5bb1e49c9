/// A synchronous signal delivered by a faulting memory access.
public struct Signal: Hashable, Sendable, CustomStringConvertible {
  /// The signal number (`SIGSEGV` = 11, `SIGBUS` = 7).
  public var signo: Int32
  /// `si_code`: `SEGV_MAPERR`/`SEGV_ACCERR` for SIGSEGV, `BUS_ADRERR` for SIGBUS.
  public var code: Int32
  /// `si_addr`, the faulting address.
  public var addr: VirtAddr

  public init(signo: Int32, code: Int32, addr: VirtAddr) {
    self.signo = signo
    self.code = code
    self.addr = addr
  }

  public static let SIGBUS: Int32 = 7
  public static let SIGSEGV: Int32 = 11
  public static let SEGV_MAPERR: Int32 = 1
  public static let SEGV_ACCERR: Int32 = 2
  public static let BUS_ADRERR: Int32 = 2

  /// SIGSEGV with SEGV_MAPERR: no VMA covers the address.
  public static func mapErr(_ addr: VirtAddr) -> Signal { Signal(signo: SIGSEGV, code: SEGV_MAPERR, addr: addr) }
  /// SIGSEGV with SEGV_ACCERR: a VMA covers the address but forbids the access.
  public static func accErr(_ addr: VirtAddr) -> Signal { Signal(signo: SIGSEGV, code: SEGV_ACCERR, addr: addr) }
  /// SIGBUS with BUS_ADRERR: e.g. a shared anonymous page past the end of its object.
  public static func busAdrErr(_ addr: VirtAddr) -> Signal { Signal(signo: SIGBUS, code: BUS_ADRERR, addr: addr) }

  /// `"SIGSEGV"` or `"SIGBUS"`.
  public var name: String { signo == Signal.SIGSEGV ? "SIGSEGV" : signo == Signal.SIGBUS ? "SIGBUS" : "signal \(signo)" }

  /// `"SEGV_MAPERR"`, `"SEGV_ACCERR"`, `"BUS_ADRERR"`.
  public var codeName: String {
    switch (signo, code) {
    case (Signal.SIGSEGV, Signal.SEGV_MAPERR): return "SEGV_MAPERR"
    case (Signal.SIGSEGV, Signal.SEGV_ACCERR): return "SEGV_ACCERR"
    case (Signal.SIGBUS, Signal.BUS_ADRERR): return "BUS_ADRERR"
    default: return "code \(code)"
    }
  }

  public var description: String { "\(name) (\(codeName)) at \(addr)" }
}
