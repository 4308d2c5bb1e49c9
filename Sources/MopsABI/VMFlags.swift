/// The kernel's `vm_flags` bits (include/linux/mm.h, x86-64), including the ones
/// `/proc/PID/maps` does not show but that still decide merging.
public struct VMFlags: OptionSet, Hashable, Sendable {
  public var rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }

  public static let read = VMFlags(rawValue: 0x1)
  public static let write = VMFlags(rawValue: 0x2)
  public static let exec = VMFlags(rawValue: 0x4)
  public static let shared = VMFlags(rawValue: 0x8)
  public static let mayRead = VMFlags(rawValue: 0x10)
  public static let mayWrite = VMFlags(rawValue: 0x20)
  public static let mayExec = VMFlags(rawValue: 0x40)
  public static let mayShare = VMFlags(rawValue: 0x80)
  public static let growsdown = VMFlags(rawValue: 0x100)
  public static let uffdMissing = VMFlags(rawValue: 0x200)
  public static let pfnmap = VMFlags(rawValue: 0x400)
  public static let uffdWP = VMFlags(rawValue: 0x1000)
  public static let locked = VMFlags(rawValue: 0x2000)
  public static let io = VMFlags(rawValue: 0x4000)
  public static let seqRead = VMFlags(rawValue: 0x8000)
  public static let randRead = VMFlags(rawValue: 0x10000)
  public static let dontcopy = VMFlags(rawValue: 0x20000)
  public static let dontexpand = VMFlags(rawValue: 0x40000)
  public static let lockonfault = VMFlags(rawValue: 0x80000)
  public static let account = VMFlags(rawValue: 0x100000)
  public static let noreserve = VMFlags(rawValue: 0x200000)
  public static let hugetlb = VMFlags(rawValue: 0x400000)
  public static let sync = VMFlags(rawValue: 0x800000)
  public static let arch1 = VMFlags(rawValue: 0x1000000)
  public static let wipeonfork = VMFlags(rawValue: 0x2000000)
  public static let dontdump = VMFlags(rawValue: 0x4000000)
  public static let softdirty = VMFlags(rawValue: 0x8000000)
  public static let mixedmap = VMFlags(rawValue: 0x1000_0000)
  public static let hugepage = VMFlags(rawValue: 0x2000_0000)
  public static let nohugepage = VMFlags(rawValue: 0x4000_0000)
  public static let mergeable = VMFlags(rawValue: 0x8000_0000)
  public static let droppable = VMFlags(rawValue: 1 << 40)
  public static let uffdMinor = VMFlags(rawValue: 1 << 41)
  public static let sealed = VMFlags(rawValue: 1 << 42)

  // The unions below are written as one constant each, so the compiler folds them
  // into the code that tests them instead of initializing a global on first use.

  /// VM_SPECIAL: never merged (`VM_IO|VM_DONTEXPAND|VM_PFNMAP|VM_MIXEDMAP`).
  public static let special = VMFlags(rawValue: 0x4000 | 0x40000 | 0x400 | 0x1000_0000)
  /// The userfaultfd registration bits (`VM_UFFD_MISSING|VM_UFFD_WP|VM_UFFD_MINOR`).
  public static let uffdAll = VMFlags(rawValue: 0x200 | 0x1000 | 1 << 41)
  /// The access bits (`VM_READ|VM_WRITE|VM_EXEC`).
  public static let access = VMFlags(rawValue: 0x1 | 0x2 | 0x4)

  /// smaps `VmFlags:` mnemonics in bit order, as fs/proc/task_mmu.c prints them.
  public static let mnemonics: [(VMFlags, String)] = [
    (.read, "rd"), (.write, "wr"), (.exec, "ex"), (.shared, "sh"), (.mayRead, "mr"),
    (.mayWrite, "mw"), (.mayExec, "me"), (.mayShare, "ms"), (.growsdown, "gd"),
    (.pfnmap, "pf"), (.locked, "lo"), (.io, "io"), (.seqRead, "sr"), (.randRead, "rr"),
    (.dontcopy, "dc"), (.dontexpand, "de"), (.lockonfault, "lf"), (.account, "ac"),
    (.noreserve, "nr"), (.hugetlb, "ht"), (.sync, "sf"), (.arch1, "ar"), (.wipeonfork, "wf"),
    (.dontdump, "dd"), (.softdirty, "sd"), (.mixedmap, "mm"), (.hugepage, "hg"),
    (.nohugepage, "nh"), (.mergeable, "mg"), (.uffdMissing, "um"), (.uffdWP, "uw"),
    (.uffdMinor, "ui"), (.droppable, "dp"), (.sealed, "sl"),
  ]

  private static let mnemonicsInBitOrder = mnemonics.sorted { $0.0.rawValue < $1.0.rawValue }

  /// The space-separated smaps `VmFlags` text (`"rd wr mr mw me ac"`).
  public var smapsText: String {
    VMFlags.mnemonicsInBitOrder.filter { contains($0.0) }.map(\.1).joined(separator: " ")
  }

  /// Parses smaps `VmFlags` text; unknown mnemonics are ignored.
  public init(smapsText: String) {
    var flags: VMFlags = []
    for word in smapsText.split(separator: " ") {
      if let entry = VMFlags.mnemonics.first(where: { $0.1 == word }) { flags.insert(entry.0) }
    }
    self = flags
  }

  /// The `VM_READ|VM_WRITE|VM_EXEC` bits for a `PROT_*` set (`calc_vm_prot_bits`).
  @inlinable
  public init(prot: Prot) {
    var flags: VMFlags = []
    if prot.contains(.read) { flags.insert(.read) }
    if prot.contains(.write) { flags.insert(.write) }
    if prot.contains(.exec) { flags.insert(.exec) }
    self = flags
  }

  /// The protection these flags grant.
  public var prot: Prot {
    var prot: Prot = []
    if contains(.read) { prot.insert(.read) }
    if contains(.write) { prot.insert(.write) }
    if contains(.exec) { prot.insert(.exec) }
    return prot
  }
}
