/// The world's event log: ``Event``s by id (their position), appended in order and never
/// changed.
///
/// Kept in segments of `segmentCapacity` events allocated once each, so the log never
/// copies its contents to grow (an array doubles and moves everything, and touches
/// twice the memory on the way). The segments live in one storage object that copies
/// of the log share until one of them appends (copy-on-write, as after
/// `World.snapshot()`).
public struct EventLog: Sendable, RandomAccessCollection {
  static let segmentShift = 10
  static let segmentCapacity = 1 << segmentShift

  final class Storage: @unchecked Sendable {
    /// Full segments, then the one being filled (there is always one).
    var segments: [UnsafeMutablePointer<Event>]
    /// The segment being filled: the last one.
    var tail: UnsafeMutablePointer<Event>
    /// Events in all segments.
    var count = 0

    init() {
      tail = .allocate(capacity: EventLog.segmentCapacity)
      segments = [tail]
    }

    deinit {
      for (k, segment) in segments.enumerated() {
        segment.deinitialize(count: events(in: k))
        segment.deallocate()
      }
    }

    /// How many events segment `k` holds.
    func events(in k: Int) -> Int {
      Swift.min(count - (k << EventLog.segmentShift), EventLog.segmentCapacity)
    }

    /// Starts a new segment (the last one is full).
    @inline(never)
    func addSegment() {
      tail = .allocate(capacity: EventLog.segmentCapacity)
      segments.append(tail)
    }

    /// A deep copy: the same events, in segments of its own.
    func copy() -> Storage {
      let copy = Storage()
      for k in segments.indices {
        if k > 0 { copy.addSegment() }
        copy.tail.initialize(from: segments[k], count: events(in: k))
      }
      copy.count = count
      return copy
    }
  }

  var storage = Storage()

  /// A log holding `first`.
  init(_ first: Event) { append(first) }

  public var startIndex: Int { 0 }
  public var endIndex: Int { storage.count }
  public var count: Int { storage.count }

  public subscript(i: Int) -> Event {
    precondition(i >= 0 && i < storage.count, "event index out of range")
    return storage.segments[i >> EventLog.segmentShift][i & (EventLog.segmentCapacity - 1)]
  }

  /// Appends `event` as the last one.
  @inline(__always)
  mutating func append(_ event: Event) {
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    let s = storage
    let slot = s.count & (EventLog.segmentCapacity - 1)
    if slot == 0 && s.count != 0 { s.addSegment() }
    (s.tail + slot).initialize(to: event)
    s.count &+= 1
  }
}
