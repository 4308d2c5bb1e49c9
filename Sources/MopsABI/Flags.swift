/// `PROT_*` bits for mmap and mprotect.
public struct Prot: OptionSet, Hashable, Sendable {
  public var rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }
  public static let none = Prot(rawValue: 0)
  public static let read = Prot(rawValue: 0x1)
  public static let write = Prot(rawValue: 0x2)
  public static let exec = Prot(rawValue: 0x4)
  public static let sem = Prot(rawValue: 0x8)
  public static let growsdown = Prot(rawValue: 0x0100_0000)
  public static let growsup = Prot(rawValue: 0x0200_0000)
  /// `PROT_READ|PROT_WRITE` (a number, so it is laid out at compile time).
  public static let readWrite = Prot(rawValue: 0x3)

  /// The `rwx` triple as maps prints it (`"rw-"`).
  public var rwx: String {
    (contains(.read) ? "r" : "-") + (contains(.write) ? "w" : "-") + (contains(.exec) ? "x" : "-")
  }
}

/// `MAP_*` flags of mmap. The low four bits are the mapping type (`MAP_TYPE`), not bits.
public struct MapFlags: OptionSet, Hashable, Sendable {
  public var rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }
  public static let shared = MapFlags(rawValue: 0x01)
  public static let `private` = MapFlags(rawValue: 0x02)
  public static let sharedValidate = MapFlags(rawValue: 0x03)
  public static let droppable = MapFlags(rawValue: 0x08)
  public static let fixed = MapFlags(rawValue: 0x10)
  public static let anonymous = MapFlags(rawValue: 0x20)
  public static let growsdown = MapFlags(rawValue: 0x100)
  public static let locked = MapFlags(rawValue: 0x2000)
  public static let noreserve = MapFlags(rawValue: 0x4000)
  public static let populate = MapFlags(rawValue: 0x8000)
  public static let nonblock = MapFlags(rawValue: 0x10000)
  public static let stack = MapFlags(rawValue: 0x20000)
  public static let hugetlb = MapFlags(rawValue: 0x40000)
  public static let sync = MapFlags(rawValue: 0x80000)
  public static let fixedNoreplace = MapFlags(rawValue: 0x100000)
  /// `MAP_TYPE`: the mask of the mapping-type field.
  public static let typeMask: UInt32 = 0x0f
  /// The mapping type field (`MAP_SHARED`, `MAP_PRIVATE`, …) as a number.
  public var mapType: UInt32 { rawValue & MapFlags.typeMask }
}

/// `MREMAP_*` flags.
public struct MremapFlags: OptionSet, Hashable, Sendable {
  public var rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }
  public static let maymove = MremapFlags(rawValue: 1)
  public static let fixed = MremapFlags(rawValue: 2)
  public static let dontunmap = MremapFlags(rawValue: 4)
  /// Every flag mremap knows (one constant, which the compiler folds into its uses).
  public static let all = MremapFlags(rawValue: 1 | 2 | 4)
}

/// A `MADV_*` advice value.
public struct Advice: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }

  public static let NORMAL = Advice(rawValue: 0)
  public static let RANDOM = Advice(rawValue: 1)
  public static let SEQUENTIAL = Advice(rawValue: 2)
  public static let WILLNEED = Advice(rawValue: 3)
  public static let DONTNEED = Advice(rawValue: 4)
  public static let FREE = Advice(rawValue: 8)
  public static let REMOVE = Advice(rawValue: 9)
  public static let DONTFORK = Advice(rawValue: 10)
  public static let DOFORK = Advice(rawValue: 11)
  public static let MERGEABLE = Advice(rawValue: 12)
  public static let UNMERGEABLE = Advice(rawValue: 13)
  public static let HUGEPAGE = Advice(rawValue: 14)
  public static let NOHUGEPAGE = Advice(rawValue: 15)
  public static let DONTDUMP = Advice(rawValue: 16)
  public static let DODUMP = Advice(rawValue: 17)
  public static let WIPEONFORK = Advice(rawValue: 18)
  public static let KEEPONFORK = Advice(rawValue: 19)
  public static let COLD = Advice(rawValue: 20)
  public static let PAGEOUT = Advice(rawValue: 21)
  public static let POPULATE_READ = Advice(rawValue: 22)
  public static let POPULATE_WRITE = Advice(rawValue: 23)
  public static let DONTNEED_LOCKED = Advice(rawValue: 24)
  public static let COLLAPSE = Advice(rawValue: 25)
  public static let GUARD_INSTALL = Advice(rawValue: 102)
  public static let GUARD_REMOVE = Advice(rawValue: 103)

  /// Every advice the reference kernel accepts, by name.
  public static let named: [(String, Advice)] = [
    ("NORMAL", .NORMAL), ("RANDOM", .RANDOM), ("SEQUENTIAL", .SEQUENTIAL),
    ("WILLNEED", .WILLNEED), ("DONTNEED", .DONTNEED), ("FREE", .FREE), ("REMOVE", .REMOVE),
    ("DONTFORK", .DONTFORK), ("DOFORK", .DOFORK), ("MERGEABLE", .MERGEABLE),
    ("UNMERGEABLE", .UNMERGEABLE), ("HUGEPAGE", .HUGEPAGE), ("NOHUGEPAGE", .NOHUGEPAGE),
    ("DONTDUMP", .DONTDUMP), ("DODUMP", .DODUMP), ("WIPEONFORK", .WIPEONFORK),
    ("KEEPONFORK", .KEEPONFORK), ("COLD", .COLD), ("PAGEOUT", .PAGEOUT),
    ("POPULATE_READ", .POPULATE_READ), ("POPULATE_WRITE", .POPULATE_WRITE),
    ("DONTNEED_LOCKED", .DONTNEED_LOCKED), ("COLLAPSE", .COLLAPSE),
    ("GUARD_INSTALL", .GUARD_INSTALL), ("GUARD_REMOVE", .GUARD_REMOVE),
  ]

  /// Looks an advice up by its name without the `MADV_` prefix.
  public init?(name: String) {
    guard let entry = Advice.named.first(where: { $0.0 == name }) else { return nil }
    self = entry.1
  }

  /// `"DONTFORK"`, or `"advice N"` for a value the kernel does not know.
  public var name: String { Advice.named.first(where: { $0.1 == self })?.0 ?? "advice \(rawValue)" }
  public var description: String { "MADV_" + name }
}

/// `UFFDIO_REGISTER_MODE_*`.
public struct UffdRegisterMode: OptionSet, Hashable, Sendable {
  public var rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  public static let missing = UffdRegisterMode(rawValue: 1)
  public static let wp = UffdRegisterMode(rawValue: 2)
  public static let minor = UffdRegisterMode(rawValue: 4)
}

/// `UFFDIO_MOVE_MODE_*`.
public struct UffdioMoveMode: OptionSet, Hashable, Sendable {
  public var rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  public static let dontwake = UffdioMoveMode(rawValue: 1 << 0)
  public static let allowSrcHoles = UffdioMoveMode(rawValue: 1 << 1)
}

/// `UFFDIO_COPY_MODE_*` (also used for ZEROPAGE's single DONTWAKE bit).
public struct UffdioCopyMode: OptionSet, Hashable, Sendable {
  public var rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  public static let dontwake = UffdioCopyMode(rawValue: 1 << 0)
  public static let wp = UffdioCopyMode(rawValue: 1 << 1)
}

/// `RAP_*` flags of the 2014 `remap_anon_pages` proposal.
public struct RemapAnonPagesFlags: OptionSet, Hashable, Sendable {
  public var rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  public static let allowSrcHoles = RemapAnonPagesFlags(rawValue: 1 << 0)
}

/// `UFFD_FEATURE_*` bits exchanged by UFFDIO_API.
public struct UffdFeatures: OptionSet, Hashable, Sendable {
  public var rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  public static let pagefaultFlagWP = UffdFeatures(rawValue: 1 << 0)
  public static let eventFork = UffdFeatures(rawValue: 1 << 1)
  public static let eventRemap = UffdFeatures(rawValue: 1 << 2)
  public static let eventRemove = UffdFeatures(rawValue: 1 << 3)
  public static let missingHugetlbfs = UffdFeatures(rawValue: 1 << 4)
  public static let missingShmem = UffdFeatures(rawValue: 1 << 5)
  public static let eventUnmap = UffdFeatures(rawValue: 1 << 6)
  public static let sigbus = UffdFeatures(rawValue: 1 << 7)
  public static let threadID = UffdFeatures(rawValue: 1 << 8)
  public static let minorHugetlbfs = UffdFeatures(rawValue: 1 << 9)
  public static let minorShmem = UffdFeatures(rawValue: 1 << 10)
  public static let exactAddress = UffdFeatures(rawValue: 1 << 11)
  public static let wpHugetlbfsShmem = UffdFeatures(rawValue: 1 << 12)
  public static let wpUnpopulated = UffdFeatures(rawValue: 1 << 13)
  public static let poison = UffdFeatures(rawValue: 1 << 14)
  public static let wpAsync = UffdFeatures(rawValue: 1 << 15)
  public static let move = UffdFeatures(rawValue: 1 << 16)
  /// Every feature the reference kernel (x86-64, 6.18) advertises.
  public static let supported = UffdFeatures(rawValue: (1 << 17) - 1)
  /// The non-cooperative events: each queues a message and makes the causing thread
  /// wait until it is read, which a single-threaded script would never do.
  /// (`EVENT_FORK|EVENT_REMAP|EVENT_REMOVE|EVENT_UNMAP`, as a number so it is laid out
  /// at compile time.)
  public static let events = UffdFeatures(rawValue: 0x4e)
}
