import MopsABI

/// One process's address space (`struct mm_struct`) plus the bits of the task the
/// model needs: its pid, parent, open userfaultfds and whether it has exited.
public final class MM {
  public let pid: PID
  /// The process that forked this one (`nil` for the first process).
  public let parent: PID?
  /// The VMAs, ordered (the maple tree).
  ///
  /// Every change goes through `_modify`, which forgets the VMAs ``vma(containing:)``
  /// remembers and hands out the storage in place (a `didSet` observer would make
  /// Swift copy the tree on every change). `otherVMA` is only ever set along with
  /// `lastVMA`, so an empty `lastVMA` means there is nothing to forget.
  public var vmas: VMATree {
    get { storedVMAs }
    _modify {
      if lastVMA != nil {
        lastVMA = nil
        otherVMA = nil
      }
      yield &storedVMAs
    }
  }
  private var storedVMAs = VMATree()
  /// The last two VMAs ``vma(containing:)`` found, most recent first (the kernel's old
  /// per-thread `vmacache`): faults come in runs inside one VMA, moves alternate
  /// between a src and a dst VMA.
  private var lastVMA: VMA?
  private var otherVMA: VMA?
  /// The page table.
  public var pageTable = PageTable()
  /// `MMF_HAS_PINNED`: something in this mm was ever DMA-pinned; decides whether fork
  /// copies possibly-pinned pages eagerly.
  public var hasPinned = false
  /// The userfaultfds this process holds open (its file table, as far as uffds go).
  public var uffds: Set<UserfaultfdCtx.ID> {
    get { storedUffds }
    _modify {
      uffdsGeneration &+= 1
      yield &storedUffds
    }
  }
  private var storedUffds: Set<UserfaultfdCtx.ID> = []
  /// Bumped by every change to `uffds`; keeps ``World``'s cache of the last userfaultfd
  /// lookup honest.
  private(set) var uffdsGeneration: UInt32 = 0
  /// Buffers this process pinned (``World/pin(_:addr:length:)``), oldest first.
  public internal(set) var pinnedBuffers: [PinnedBuffer] = []
  /// The event that created this process (the fork, or `.none` for the first).
  public let createdBy: EventID

  /// `mm->map_count`: the number of VMAs.
  public var mapCount: Int { vmas.count }

  /// `vma_lookup`: the VMA containing `addr`, trying the last two found first.
  @inline(__always)
  func vma(containing addr: VirtAddr) -> VMA? {
    if let vma = lastVMA, vma.contains(addr) { return vma }
    if let vma = otherVMA, vma.contains(addr) { return vma }
    guard let vma = vmas.vma(containing: addr) else { return nil }
    otherVMA = lastVMA
    lastVMA = vma
    return vma
  }

  init(pid: PID, parent: PID?, createdBy: EventID) {
    self.pid = pid
    self.parent = parent
    self.createdBy = createdBy
  }

  /// A deep copy: value-typed state is shared copy-on-write.
  func clone() -> MM {
    let copy = MM(pid: pid, parent: parent, createdBy: createdBy)
    copy.vmas = vmas
    copy.pageTable = pageTable
    copy.hasPinned = hasPinned
    copy.uffds = uffds
    copy.pinnedBuffers = pinnedBuffers
    return copy
  }
}

/// A userfaultfd context (`struct userfaultfd_ctx`).
public struct UserfaultfdCtx: Sendable {
  public struct ID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public var description: String { "uffd#\(rawValue)" }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
    public func _rawHashValue(seed: Int) -> Int { fastHash(UInt64(rawValue), seed) }
  }
  /// `ctx->mm`: the address space every range ioctl acts on.
  public var mm: PID
  /// `O_CLOEXEC|O_NONBLOCK|UFFD_USER_MODE_ONLY` as given at creation.
  public var flags: Int32
  /// UFFDIO_API has succeeded.
  public var initialized = false
  /// Features agreed by UFFDIO_API.
  public var features: UffdFeatures = []
  /// Processes holding the fd open; the context is released with the last one.
  public var holders: Set<PID> = []
}

/// The result of an operation that failed: the errno and the kernel's reason.
public struct KernelError: Error, Hashable, Sendable, CustomStringConvertible {
  public var errno: Errno
  /// Which check failed, in the kernel's terms ("dst PTE is not none").
  public var reason: String
  /// For EBUSY on a shared page: who else maps it and which event made it shared.
  public var sharing: Sharing?

  /// The model deliberately does not cover this case (THP, non-cooperative uffd
  /// events, …) and refuses it rather than answer wrongly. `errno` is ENOSYS.
  public var isNotModelled: Bool = false

  public init(_ errno: Errno, _ reason: String, sharing: Sharing? = nil) {
    self.errno = errno
    self.reason = reason
    self.sharing = sharing
  }

  /// A refusal for behaviour the model does not cover.
  public static func notModelled(_ what: String) -> KernelError {
    var e = KernelError(.ENOSYS, "not modelled: \(what)")
    e.isNotModelled = true
    return e
  }

  public var description: String { isNotModelled ? reason : "\(errno.name): \(reason)" }
}
