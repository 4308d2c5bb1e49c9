import MopsABI

/// A physical page frame (an order-0 folio): the kernel's `struct folio` as far as
/// anonymous memory needs it.
public struct Folio: Sendable {
  // ``FolioArray`` stores the fields in two parts (what fork updates per shared page,
  // and the rest); this value type is how the rest of the engine reads and writes them.

  /// `folio->index`: the linear page index in its anon_vma (`vma_pgoff + offset`), or
  /// the page offset in the shmem object.
  public var index: UInt64 = 0
  /// `folio_mapcount`: PTEs mapping this page across all processes.
  public var mapcount: Int32 = 0
  /// DMA pins (`FOLL_PIN`, e.g. an io_uring fixed buffer). Each adds to the refcount.
  public var pins: Int32 = 0
  /// Other references: held by a pipe after vmsplice, or by the per-CPU LRU batch.
  public var extraRefs: Int32 = 0
  /// `folio->mapping` for anonymous pages: the anon_vma that rmap walks start from.
  public var anonVMA: AnonVMA.ID = .none
  /// Key into ``World/sparseContents`` for byte-level writes; 0 when there are none.
  public var sparse: UInt32 = 0
  /// Provenance: the event that allocated this page.
  public var origin: EventID = .none
  /// Provenance: which fork last made this page shared, as its 1-based position in
  /// ``World/forkEvents``; 0 for none (``World/sharedSince(_:)`` gives the event).
  /// Forks past the 16,777,215th are not recorded (0).
  public var sharedSinceFork: UInt32 = 0
  public var flags: Flags = []
  /// The byte every offset holds unless `sparse` overrides it.
  public var fill: UInt8 = 0

  public struct Flags: OptionSet, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The frame is allocated (not on the free list).
    public static let inUse = Flags(rawValue: 1 << 0)
    /// `PageAnonExclusive`: only this mapping may write without COW.
    public static let anonExclusive = Flags(rawValue: 1 << 1)
    /// Lazy-free after MADV_FREE (PG_swapbacked cleared once the batch drains).
    public static let lazyfree = Flags(rawValue: 1 << 2)
    /// The page lives in a shmem object's page cache (shared anonymous memory).
    public static let shmem = Flags(rawValue: 1 << 3)
    /// `PG_dirty`, the folio-level dirty flag (the PTE's dirty bit is separate). Set on
    /// an anonymous page only by a GUP write through a clean writable PTE (FOLL_TOUCH,
    /// e.g. MADV_POPULATE_WRITE after MADV_FREE); MADV_FREE clears it on pages mapped
    /// once. It keeps a lazy-free page from being discarded. A shmem page is marked
    /// dirty by any store through a mapping (a write fault, UFFDIO_COPY/ZEROPAGE); a
    /// clean one is dropped from its object by reclaim (MADV_PAGEOUT).
    public static let dirty = Flags(rawValue: 1 << 4)
  }

  /// `folio_ref_count`: mapcount, pins, other references, and the page cache's own
  /// reference for shmem pages.
  public var refcount: Int32 {
    mapcount + pins + extraRefs + (flags.contains(.shmem) ? 1 : 0)
  }
  public var isAnonExclusive: Bool { flags.contains(.anonExclusive) }
  public var isPinned: Bool { pins > 0 }
  public var isInUse: Bool { flags.contains(.inUse) }
}

/// An `anon_vma`: the reverse-map root that a faulted private VMA and its fork copies
/// hang on. Two VMAs with different anon_vmas never merge.
public struct AnonVMA: Sendable {
  public struct ID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let none = ID(rawValue: 0)
    public var description: String { "anon_vma#\(rawValue)" }
  }
  /// The anon_vma this one was forked from (`anon_vma->parent`), `.none` for a root.
  public var parent: ID
}

/// A shared anonymous mapping's backing object (a shmem file): pages by offset.
public struct ShmemObject: Sendable {
  public struct ID: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
  }
  /// The object's size in pages (the mmap length); pages at or past it raise SIGBUS.
  public var sizeInPages: UInt64
  /// Page-cache pages by page offset.
  public var pages: [UInt64: PFN] = [:]
  /// How many VMAs refer to the object; the pages are freed with the last one.
  public var vmaRefs: Int = 0
  /// The inode number shown in maps.
  public var inode: UInt64
}

/// An index into the world's event log, used to explain where state came from.
public struct EventID: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }
  public static let none = EventID(rawValue: 0)
}

/// Something that happened, kept so an error can say why ("since the fork at line 9").
public struct Event: Sendable {
  public enum Kind: String, Sendable {
    case mmap, munmap, mprotect, madvise, mremap, fault, fork, exit, uffdMove, uffdCopy,
      uffdZeropage, remapAnonPages, pin, other
  }
  public var kind: Kind
  public var pid: PID
  /// The caller's tag for the operation (the language passes the source line).
  public var tag: Int
  /// For fork: the child's pid.
  public var otherPID: PID?
}
