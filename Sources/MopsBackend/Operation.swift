import MopsABI

/// A handle to a userfaultfd as a backend names it (the sim's context id, the live
/// worker's file descriptor).
public struct UffdHandle: RawRepresentable, Hashable, Sendable {
  public var rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }
}

/// One syscall-level operation, performed by one process. Every backend executes the
/// same operations, so a script means the same thing under each of them.
public enum Operation: Hashable, Sendable {
  case mmap(addr: VirtAddr, length: UInt64, prot: Prot, flags: MapFlags)
  case munmap(addr: VirtAddr, length: UInt64)
  case mprotect(addr: VirtAddr, length: UInt64, prot: Prot)
  case madvise(addr: VirtAddr, length: UInt64, advice: Advice)
  case mremap(oldAddr: VirtAddr, oldLength: UInt64, newLength: UInt64, flags: MremapFlags, newAddr: VirtAddr)
  /// A read or write access to one page; a write with `fill` stores it in every byte.
  case touch(addr: VirtAddr, write: Bool, fill: UInt8?)
  case writeBytes(addr: VirtAddr, bytes: [UInt8])
  case readBytes(addr: VirtAddr, count: Int)
  case fork
  case exit
  /// A long-term DMA pin (`FOLL_PIN|FOLL_LONGTERM|FOLL_WRITE`) of a range.
  case pin(addr: VirtAddr, length: UInt64)
  case unpin(addr: VirtAddr, length: UInt64)
  case userfaultfd(flags: Int32)
  case uffdioAPI(uffd: UffdHandle, api: UInt64, features: UffdFeatures)
  case uffdioRegister(uffd: UffdHandle, start: VirtAddr, length: UInt64, mode: UffdRegisterMode)
  case uffdioUnregister(uffd: UffdHandle, start: VirtAddr, length: UInt64)
  case closeUffd(uffd: UffdHandle)
  case uffdioMove(uffd: UffdHandle, dst: VirtAddr, src: VirtAddr, length: UInt64, mode: UffdioMoveMode)
  case uffdioCopy(uffd: UffdHandle, dst: VirtAddr, src: VirtAddr, length: UInt64, mode: UffdioCopyMode)
  case uffdioZeropage(uffd: UffdHandle, dst: VirtAddr, length: UInt64, mode: UffdioCopyMode)
  /// The 2014 `remap_anon_pages` proposal (sim only: never merged into Linux).
  case remapAnonPages(dst: VirtAddr, src: VirtAddr, length: UInt64, flags: RemapAnonPagesFlags)

  /// The syscall or ioctl this operation is (`"mremap"`, `"UFFDIO_MOVE"`).
  public var syscallName: String {
    switch self {
    case .mmap: "mmap"
    case .munmap: "munmap"
    case .mprotect: "mprotect"
    case .madvise(_, _, let advice): "madvise(\(advice))"
    case .mremap: "mremap"
    case .touch(_, let write, _): write ? "write access" : "read access"
    case .writeBytes: "write"
    case .readBytes: "read"
    case .fork: "fork"
    case .exit: "exit"
    case .pin: "pin"
    case .unpin: "unpin"
    case .userfaultfd: "userfaultfd"
    case .uffdioAPI: "UFFDIO_API"
    case .uffdioRegister: "UFFDIO_REGISTER"
    case .uffdioUnregister: "UFFDIO_UNREGISTER"
    case .closeUffd: "close"
    case .uffdioMove: "UFFDIO_MOVE"
    case .uffdioCopy: "UFFDIO_COPY"
    case .uffdioZeropage: "UFFDIO_ZEROPAGE"
    case .remapAnonPages: "remap_anon_pages"
    }
  }

  /// Every address range the operation names, for the arena check.
  public var addressRanges: [(VirtAddr, UInt64)] {
    switch self {
    case .mmap(let addr, let length, _, let flags):
      return flags.contains(.fixed) || flags.contains(.fixedNoreplace) || addr.rawValue != 0 ? [(addr, length)] : []
    case .munmap(let a, let l), .mprotect(let a, let l, _), .madvise(let a, let l, _), .pin(let a, let l),
      .unpin(let a, let l), .uffdioRegister(_, let a, let l, _), .uffdioUnregister(_, let a, let l),
      .uffdioZeropage(_, let a, let l, _):
      return [(a, l)]
    case .mremap(let oldAddr, let oldLength, let newLength, let flags, let newAddr):
      var r = [(oldAddr, oldLength)]
      if flags.contains(.fixed) || flags.contains(.dontunmap) { r.append((newAddr, newLength)) }
      return r
    case .touch(let a, _, _): return [(a, 1)]
    case .writeBytes(let a, let bytes): return [(a, UInt64(bytes.count))]
    case .readBytes(let a, let count): return [(a, UInt64(max(count, 0)))]
    case .uffdioMove(_, let dst, let src, let l, _), .uffdioCopy(_, let dst, let src, let l, _),
      .remapAnonPages(let dst, let src, let l, _):
      return [(dst, l), (src, l)]
    case .fork, .exit, .userfaultfd, .uffdioAPI, .closeUffd:
      return []
    }
  }
}

/// What an operation did, in terms every backend can report.
public struct OpOutcome: Hashable, Sendable {
  public enum Result: Hashable, Sendable {
    /// The call returned success (0 or a value).
    case ok
    /// The call failed with this errno (for UFFDIO_* ioctls: the ioctl's errno).
    case errno(Errno)
    /// The access raised a synchronous signal.
    case signal(Signal)
    /// The access hit a userfaultfd-registered page with nothing to satisfy it: the
    /// thread would block until the fault is resolved.
    case userfault(VirtAddr)
    /// The backend refuses the operation because it does not model (or, live, cannot
    /// perform) this case; the text says what.
    case notModelled(String)
  }

  public var result: Result
  /// The returned value: an address (mmap, mremap), a pid (fork), a uffd handle,
  /// UFFDIO_API's features, UFFDIO_REGISTER's ioctls bitmask.
  public var value: UInt64?
  /// The output field of UFFDIO_MOVE/COPY/ZEROPAGE (`nil` when the kernel left it
  /// untouched), or remap_anon_pages' return value.
  public var field: Int64?
  /// Bytes read by `readBytes`.
  public var bytes: [UInt8]?
  /// Why, in the kernel's terms, when the backend knows (the sim always does).
  public var reason: String?
  /// For a page that is not exclusive: who maps it and since which fork.
  public var sharing: Sharing?

  public init(
    _ result: Result, value: UInt64? = nil, field: Int64? = nil, bytes: [UInt8]? = nil,
    reason: String? = nil, sharing: Sharing? = nil
  ) {
    self.result = result
    self.value = value
    self.field = field
    self.bytes = bytes
    self.reason = reason
    self.sharing = sharing
  }

  public static let ok = OpOutcome(.ok)

  public var errno: Errno? {
    if case .errno(let e) = result { return e }
    return nil
  }

  /// Bytes a UFFDIO_MOVE/COPY/ZEROPAGE or remap_anon_pages reported done (0 when the
  /// field holds an error or was untouched).
  public var bytesDone: UInt64 { field.map { $0 > 0 ? UInt64($0) : 0 } ?? 0 }
}
