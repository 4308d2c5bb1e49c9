/// One VMA as every backend reports it: the `/proc/PID/maps` line plus smaps `VmFlags`.
public struct VMAInfo: Hashable, Sendable {
  public var start: VirtAddr
  public var end: VirtAddr
  /// The full `vm_flags`, as far as the backend can see them (smaps shows most).
  public var flags: VMFlags
  /// The offset column of maps in pages: 0 for private anonymous VMAs, the shmem
  /// offset for shared anonymous ones.
  public var mapsPgoff: UInt64
  /// The shmem inode number for a shared anonymous VMA, `nil` for private anon.
  public var shmemInode: UInt64?

  public init(start: VirtAddr, end: VirtAddr, flags: VMFlags, mapsPgoff: UInt64, shmemInode: UInt64?) {
    self.start = start
    self.end = end
    self.flags = flags
    self.mapsPgoff = mapsPgoff
    self.shmemInode = shmemInode
  }

  public var prot: Prot { flags.prot }
  public var isShared: Bool { flags.contains(.shared) }
  public var pageCount: UInt64 { (end - start) >> pageShift }

  /// The maps-style line: `100000000000-100000004000 rw-p 00000000 rd wr mr mw me ac`.
  /// Device, inode and name columns are left out (they differ between backends only in
  /// the inode number); shared anonymous VMAs are tagged `/dev/zero (deleted)`.
  public var mapsLine: String {
    let range = String(start.rawValue, radix: 16) + "-" + String(end.rawValue, radix: 16)
    let perms = prot.rwx + (isShared ? "s" : "p")
    var offset = String(mapsPgoff << pageShift, radix: 16)
    if offset.count < 8 { offset = String(repeating: "0", count: 8 - offset.count) + offset }
    var line = "\(range) \(perms) \(offset)"
    if isShared { line += " /dev/zero (deleted)" }
    return line + "  " + flags.smapsText
  }
}

/// What a page-table entry holds, as pagemap shows it.
public enum PageState: String, Hashable, Sendable {
  /// No PTE (pagemap bit 63 clear).
  case none
  /// The shared zero page (present, kpageflags ZERO_PAGE).
  case zeroPage = "zero"
  /// A normal page.
  case present
}

/// The bytes of a page, as far as a script can write them: a fill byte plus sparse
/// byte writes on top of it.
public struct PageContents: Hashable, Sendable, CustomStringConvertible {
  /// The byte every offset holds unless overridden.
  public var fill: UInt8
  /// Individual bytes written at offsets `0..<pageSize` that differ from `fill`.
  public var bytes: [UInt16: UInt8]

  public init(fill: UInt8 = 0, bytes: [UInt16: UInt8] = [:]) {
    self.fill = fill
    self.bytes = bytes
  }

  public static let zero = PageContents()

  public subscript(offset: UInt16) -> UInt8 { bytes[offset] ?? fill }

  public var isZero: Bool { fill == 0 && bytes.values.allSatisfy { $0 == 0 } }

  /// Writes `value` at `offset` and drops overrides equal to the fill byte.
  public mutating func write(_ value: UInt8, at offset: UInt16) {
    if value == fill { bytes[offset] = nil } else { bytes[offset] = value }
  }

  /// The byte at most offsets (ties go to the smaller byte value): the fill of the
  /// canonical form, which does not depend on how the bytes were written.
  public var canonicalFill: UInt8 {
    if bytes.isEmpty { return fill }
    var counts = [Int](repeating: 0, count: 256)
    counts[Int(fill)] = Int(pageSize) - bytes.count
    for b in bytes.values { counts[Int(b)] += 1 }
    var best = 0
    for b in 1..<256 where counts[b] > counts[best] { best = b }
    return UInt8(best)
  }

  /// Two contents are equal when every byte is, however each was represented.
  public static func == (a: PageContents, b: PageContents) -> Bool {
    if a.bytes.isEmpty && b.bytes.isEmpty { return a.fill == b.fill }
    for offset in 0..<UInt16(pageSize) where a[offset] != b[offset] { return false }
    return true
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(canonicalFill)
  }

  public var description: String {
    func show(_ b: UInt8) -> String {
      (0x21...0x7e).contains(b) && b != 0x27 ? "'\(Character(UnicodeScalar(b)))'" : "0x" + String(b, radix: 16)
    }
    if bytes.isEmpty { return show(fill) }
    let extra = bytes.keys.sorted().prefix(4).map { "[\($0)]=\(show(bytes[$0]!))" }
    return show(fill) + " " + extra.joined(separator: " ") + (bytes.count > 4 ? " …" : "")
  }
}

/// One virtual page as every backend reports it. Fields a backend cannot observe
/// (e.g. PFNs without root) are `nil`.
public struct PageInfo: Hashable, Sendable {
  public var addr: VirtAddr
  public var state: PageState
  /// The frame mapped here (the zero page has its own constant frame).
  public var pfn: PFN?
  /// `/proc/kpagecount`: PTEs mapping the frame across all processes (0 for the zero page).
  public var mapcount: Int?
  /// pagemap bit 56: the page is mapped exactly once.
  public var exclusive: Bool?
  /// kpageflags bit 34 on anonymous pages: PageAnonExclusive.
  public var anonExclusive: Bool?
  /// Whether the PTE allows writes without a fault.
  public var writable: Bool?
  /// pagemap bit 61: file page or shared anonymous (shmem) page.
  public var shared: Bool
  /// Bytes in the page; zero for none and the zero page.
  public var contents: PageContents?

  public init(
    addr: VirtAddr, state: PageState, pfn: PFN?, mapcount: Int?, exclusive: Bool?,
    anonExclusive: Bool?, writable: Bool?, shared: Bool, contents: PageContents?
  ) {
    self.addr = addr
    self.state = state
    self.pfn = pfn
    self.mapcount = mapcount
    self.exclusive = exclusive
    self.anonExclusive = anonExclusive
    self.writable = writable
    self.shared = shared
    self.contents = contents
  }
}

extension PageInfo {
  /// The per-page table of `show pages`: address, state, frame (as `frame` names it),
  /// mapcount, exclusive (pagemap bit 56), anon-exclusive, optionally the PTE's
  /// writability, and contents; "?" for a mapcount, frame or contents the backend did
  /// not observe, "-" for a flag it did not.
  public static func table(
    _ pages: [PageInfo], showsWritable: Bool = false, frame: (PageInfo) -> String
  ) -> String {
    var header = ["address", "state", "frame", "map", "excl", "pae"]
    if showsWritable { header.append("rw") }
    var rows = [header + ["contents"]]
    for p in pages {
      func yn(_ b: Bool?) -> String { b.map { $0 ? "yes" : "no" } ?? "-" }
      var row = [
        String(p.addr.rawValue, radix: 16), p.state.rawValue,
        p.state == .none ? "-" : p.state == .zeroPage ? "zero" : frame(p),
        p.state == .none ? "-" : p.mapcount.map(String.init) ?? "?",
        p.state == .none ? "-" : yn(p.exclusive),
        p.state == .present ? yn(p.anonExclusive) : "-",
      ]
      if showsWritable { row.append(p.state == .none ? "-" : yn(p.writable)) }
      row.append(p.state == .none ? "-" : p.contents?.description ?? "?")
      rows.append(row)
    }
    let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max()! }
    return rows.map { row in
      row.enumerated().map { c, cell in
        c == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[c] - cell.count)
      }.joined(separator: "  ")
    }.joined(separator: "\n")
  }
}

/// Per-process totals, as smaps and status report them.
public struct ProcessInfo: Hashable, Sendable {
  public var pid: PID
  public var parent: PID?
  /// Rss: present normal pages (zero-page PTEs are not counted).
  public var rssPages: Int
  /// RssAnon / smaps Anonymous: present private anonymous pages.
  public var anonPages: Int
  /// RssShmem: present shared anonymous (shmem) pages.
  public var shmemPages: Int
  /// map_count.
  public var vmaCount: Int

  public init(pid: PID, parent: PID?, rssPages: Int, anonPages: Int, shmemPages: Int, vmaCount: Int) {
    self.pid = pid
    self.parent = parent
    self.rssPages = rssPages
    self.anonPages = anonPages
    self.shmemPages = shmemPages
    self.vmaCount = vmaCount
  }
}
