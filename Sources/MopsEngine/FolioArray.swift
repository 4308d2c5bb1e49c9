/// The folios of the physical frames, indexed by `pfn - firstPFN`: a random-access,
/// mutable collection with value semantics (copy on write, so a world snapshot shares
/// it until one side changes a frame).
///
/// Each folio is stored in two parts. The fields fork updates for every page it
/// shares — mapcount, flags (PageAnonExclusive) and the provenance of the sharing —
/// are kept apart from the rest, 8 bytes a frame, so that copying the page tables of a
/// large address space streams through a fifth of the memory a whole folio takes.
/// The collection still reads and writes whole ``Folio`` values.
///
/// The parts live in chunks of 2^16 frames that never move. Growing the array
/// allocates one more chunk; an `Array` would copy every folio each time it doubled,
/// touching about twice the host memory the frames need.
public struct FolioArray: RandomAccessCollection, MutableCollection, Sendable {
  static let chunkShift = 16
  static let chunkSize = 1 << chunkShift
  static let slotMask = chunkSize - 1

  /// What fork reads and writes for every page it shares, in one word: the mapcount
  /// (low 32 bits), the flags (8 bits) and ``Folio/sharedSinceFork`` (high 24 bits).
  struct Hot {
    var word: UInt64

    static let flagsShift: UInt64 = 32
    static let forkShift: UInt64 = 40
    /// The largest fork ordinal the 24 bits hold.
    static let maxFork: UInt32 = (1 << 24) - 1

    init(mapcount: Int32, flags: Folio.Flags, sharedSinceFork: UInt32) {
      word = UInt64(UInt32(bitPattern: mapcount)) | UInt64(flags.rawValue) << Hot.flagsShift
        | UInt64(sharedSinceFork) << Hot.forkShift
    }

    var mapcount: Int32 { Int32(truncatingIfNeeded: word) }
    var flags: Folio.Flags { Folio.Flags(rawValue: UInt8(truncatingIfNeeded: word >> Hot.flagsShift)) }
    var sharedSinceFork: UInt32 { UInt32(truncatingIfNeeded: word >> Hot.forkShift) }

    /// One mapping fewer (the mapcount, in the low bits, is at least 1).
    @inline(__always)
    mutating func removeMapping() { word &-= 1 }

    /// What fork does to the word of each folio it shares, in one read-modify-write:
    /// mapcount + 1, PageAnonExclusive cleared, the fork with ordinal `ordinal`
    /// recorded as the one that shared it.
    struct ForkShare {
      let keep: UInt64
      let stamp: UInt64

      init(ordinal: UInt32) {
        stamp = UInt64(ordinal) << Hot.forkShift
        keep = (1 << Hot.forkShift - 1) & ~(UInt64(Folio.Flags.anonExclusive.rawValue) << Hot.flagsShift)
      }

      @inline(__always)
      func callAsFunction(_ word: UInt64) -> UInt64 { (word &+ 1) & keep | stamp }
    }
  }

  /// Everything else.
  struct Cold {
    var index: UInt64
    var pins: Int32
    var extraRefs: Int32
    var anonVMA: AnonVMA.ID
    var sparse: UInt32
    var origin: EventID
    var fill: UInt8
  }

  /// The chunks and the number of folios in use; chunk `c` holds folios
  /// `[c << chunkShift, (c + 1) << chunkShift)`, all but the last one full.
  final class Storage: @unchecked Sendable {
    var hot: [UnsafeMutablePointer<Hot>] = []
    var cold: [UnsafeMutablePointer<Cold>] = []
    var count = 0

    init() {}

    /// A copy of `other`'s folios in chunks of its own.
    init(copying other: Storage) {
      count = other.count
      hot.reserveCapacity(other.hot.count)
      cold.reserveCapacity(other.cold.count)
      for c in other.hot.indices {
        let n = other.used(inChunk: c)
        let h = UnsafeMutablePointer<Hot>.allocate(capacity: FolioArray.chunkSize)
        h.initialize(from: other.hot[c], count: n)
        hot.append(h)
        let k = UnsafeMutablePointer<Cold>.allocate(capacity: FolioArray.chunkSize)
        k.initialize(from: other.cold[c], count: n)
        cold.append(k)
      }
    }

    /// Folios initialized in chunk `c`.
    func used(inChunk c: Int) -> Int {
      Swift.min(FolioArray.chunkSize, count - (c << FolioArray.chunkShift))
    }

    deinit {
      // Both parts are trivial types: nothing to deinitialize.
      for h in hot { h.deallocate() }
      for k in cold { k.deallocate() }
    }
  }

  private var storage = Storage()

  public init() {}

  public var startIndex: Int { 0 }
  public var endIndex: Int { storage.count }

  public subscript(i: Int) -> Folio {
    @inline(__always) get {
      precondition(i >= 0 && i < storage.count, "folio index out of range")
      let c = i >> FolioArray.chunkShift
      let s = i & FolioArray.slotMask
      return Folio(storage.hot[c][s], storage.cold[c][s])
    }
    @inline(__always) set {
      precondition(i >= 0 && i < storage.count, "folio index out of range")
      makeUnique()
      let c = i >> FolioArray.chunkShift
      let s = i & FolioArray.slotMask
      storage.hot[c][s] = newValue.hot
      storage.cold[c][s] = newValue.cold
    }
  }

  /// Mutates the fields of folio `i` that fork does not touch, without assembling the
  /// whole folio (a store's fill byte on the write-fault path).
  @inline(__always)
  mutating func modifyCold<R>(_ i: Int, _ body: (inout Cold) -> R) -> R {
    precondition(i >= 0 && i < storage.count, "folio index out of range")
    makeUnique()
    return body(&storage.cold[i >> FolioArray.chunkShift][i & FolioArray.slotMask])
  }

  /// Adds `folio` at the end.
  public mutating func append(_ folio: Folio) {
    makeUnique()
    let i = storage.count
    if i & FolioArray.slotMask == 0 {
      storage.hot.append(UnsafeMutablePointer<Hot>.allocate(capacity: FolioArray.chunkSize))
      storage.cold.append(UnsafeMutablePointer<Cold>.allocate(capacity: FolioArray.chunkSize))
    }
    let c = i >> FolioArray.chunkShift
    let s = i & FolioArray.slotMask
    (storage.hot[c] + s).initialize(to: folio.hot)
    (storage.cold[c] + s).initialize(to: folio.cold)
    storage.count = i + 1
  }

  /// Calls `body` with direct access to every folio's fork-time fields (fork's bulk
  /// update). `body` must not add folios.
  mutating func withUnsafeMutableAccess<R>(_ body: (UnsafeMutableFolios) -> R) -> R {
    makeUnique()
    let count = storage.count
    return storage.hot.withUnsafeBufferPointer { hot in
      storage.cold.withUnsafeBufferPointer { cold in
        body(UnsafeMutableFolios(hot: hot, cold: cold, count: count))
      }
    }
  }

  private mutating func makeUnique() {
    if !isKnownUniquelyReferenced(&storage) { storage = Storage(copying: storage) }
  }
}

/// Unchecked access to a ``FolioArray``'s folios for the duration of
/// ``FolioArray/withUnsafeMutableAccess(_:)``.
struct UnsafeMutableFolios {
  let hot: UnsafeBufferPointer<UnsafeMutablePointer<FolioArray.Hot>>
  let cold: UnsafeBufferPointer<UnsafeMutablePointer<FolioArray.Cold>>
  /// The number of folios.
  let count: Int

  /// The fork-time fields of folio `i` (valid for the duration of the access).
  @inline(__always)
  func hot(_ i: Int) -> UnsafeMutablePointer<FolioArray.Hot> {
    hot[i >> FolioArray.chunkShift] + (i & FolioArray.slotMask)
  }

  /// Applies `body` to the fork-time word of folios `[first, first + count)`, a chunk
  /// at a time (a loop over consecutive words).
  @inline(__always)
  func updateHot(from first: Int, count: Int, _ body: (UInt64) -> UInt64) {
    var i = first
    let end = first + count
    while i < end {
      let slot = i & FolioArray.slotMask
      let n = Swift.min(end - i, FolioArray.chunkSize - slot)
      let words = hot[i >> FolioArray.chunkShift] + slot
      for k in 0..<n { words[k].word = body(words[k].word) }
      i += n
    }
  }

  /// The other fields of folio `i`.
  @inline(__always)
  func cold(_ i: Int) -> UnsafeMutablePointer<FolioArray.Cold> {
    cold[i >> FolioArray.chunkShift] + (i & FolioArray.slotMask)
  }
}

extension Folio {
  init(_ hot: FolioArray.Hot, _ cold: FolioArray.Cold) {
    self.init(
      index: cold.index, mapcount: hot.mapcount, pins: cold.pins, extraRefs: cold.extraRefs,
      anonVMA: cold.anonVMA, sparse: cold.sparse, origin: cold.origin, sharedSinceFork: hot.sharedSinceFork,
      flags: hot.flags, fill: cold.fill)
  }

  var hot: FolioArray.Hot {
    .init(
      mapcount: mapcount, flags: flags,
      sharedSinceFork: sharedSinceFork <= FolioArray.Hot.maxFork ? sharedSinceFork : 0)
  }
  var cold: FolioArray.Cold {
    .init(index: index, pins: pins, extraRefs: extraRefs, anonVMA: anonVMA, sparse: sparse, origin: origin, fill: fill)
  }
}
