// Reading /proc: whole files (maps, smaps) and 8-byte records (pagemap, kpagecount,
// kpageflags), and the smaps parser. Reading never faults a page of the worker in.
import Glibc
import MopsABI

/// One VMA of `/proc/PID/smaps`: the maps line, VmFlags and the counters we use.
struct SmapsVMA: Hashable, Sendable {
  var info: VMAInfo
  /// `Rss` in pages (present normal pages; zero-page PTEs are not counted).
  var rssPages: Int
  /// `Anonymous` in pages.
  var anonPages: Int
}

enum ProcFS {
  /// The whole content of a /proc file, or `nil` with errno set.
  static func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var data = [UInt8](repeating: 0, count: 1 << 16)
    var used = 0
    while true {
      if used == data.count { data.append(contentsOf: repeatElement(0, count: data.count)) }
      let n = data.withUnsafeMutableBytes { read(fd, $0.baseAddress! + used, $0.count - used) }
      if n < 0 {
        if errno == EINTR { continue }
        return nil
      }
      if n == 0 { break }
      used += n
    }
    data.removeSubrange(used...)
    return data
  }

  /// Reads `count` little-endian u64 records at record index `index` of an open file
  /// (pagemap, kpagecount, kpageflags). Missing records read as 0.
  static func records(_ fd: Int32, at index: UInt64, count: Int) -> [UInt64]? {
    guard count > 0 else { return [] }
    let (offset, overflow) = index.multipliedReportingOverflow(by: 8)
    guard !overflow, offset <= UInt64(Int64.max) else { return nil }
    var out = [UInt64](repeating: 0, count: count)
    var done = 0
    let bytes = count * 8
    while done < bytes {
      let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, bytes - done, off_t(offset) + off_t(done)) }
      if n < 0 {
        if errno == EINTR { continue }
        return nil
      }
      if n == 0 { break }
      done += n
    }
    return out
  }

  /// Parses `/proc/PID/smaps` text, keeping the VMAs that intersect the arena. Lines of
  /// other VMAs are skipped without being split.
  static func parseSmaps(_ text: [UInt8]) -> [SmapsVMA] {
    var result: [SmapsVMA] = []
    var current: SmapsVMA?
    var lineStart = 0
    while lineStart < text.count {
      var lineEnd = lineStart
      while lineEnd < text.count, text[lineEnd] != 0x0a { lineEnd += 1 }
      let line = text[lineStart..<lineEnd]
      lineStart = lineEnd + 1
      guard let first = line.first else { continue }
      if (0x30...0x39).contains(first) || (0x61...0x66).contains(first) {
        if let c = current { result.append(c) }
        current = parseHeader(line)
        continue
      }
      guard current != nil else { continue }
      if hasPrefix(line, "Rss:") {
        current!.rssPages = kilobytes(line) / 4
      } else if hasPrefix(line, "Anonymous:") {
        current!.anonPages = kilobytes(line) / 4
      } else if hasPrefix(line, "VmFlags:") {
        let words = String(decoding: line.dropFirst(8), as: UTF8.self)
        current!.info.flags = VMFlags(smapsText: words.trimmingSpaces)
      }
    }
    if let c = current { result.append(c) }
    return result
  }

  private static func hasPrefix(_ line: ArraySlice<UInt8>, _ prefix: StaticString) -> Bool {
    guard line.count >= prefix.utf8CodeUnitCount else { return false }
    var i = line.startIndex
    for b in UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount) {
      if line[i] != b { return false }
      i += 1
    }
    return true
  }

  /// `start-end perms offset dev inode name`; `nil` for a VMA outside the arena.
  private static func parseHeader(_ line: ArraySlice<UInt8>) -> SmapsVMA? {
    var i = line.startIndex
    func hexField(_ terminator: UInt8) -> UInt64? {
      var value: UInt64 = 0
      var digits = 0
      while i < line.endIndex, line[i] != terminator {
        let b = line[i]
        let d: UInt8
        switch b {
        case 0x30...0x39: d = b - 0x30
        case 0x61...0x66: d = b - 0x61 + 10
        default: return nil
        }
        guard digits < 16 else { return nil }
        value = value << 4 | UInt64(d)
        digits += 1
        i += 1
      }
      i += 1
      return digits > 0 ? value : nil
    }
    guard let start = hexField(0x2d), let end = hexField(0x20) else { return nil }
    guard end > Arena.start.rawValue, start < Arena.end.rawValue else { return nil }
    let fields = line[i...].split(separator: 0x20, maxSplits: 4, omittingEmptySubsequences: true)
    guard fields.count >= 4, let offset = hex(fields[1]),
      let inode = UInt64(String(decoding: fields[3], as: UTF8.self))
    else { return nil }
    let perms = Array(fields[0])
    let shared = perms.count == 4 && perms[3] == UInt8(ascii: "s")
    let name = fields.count > 4 ? String(decoding: fields[4], as: UTF8.self).trimmingSpaces : ""
    let info = VMAInfo(
      start: VirtAddr(start), end: VirtAddr(end), flags: [], mapsPgoff: offset >> pageShift,
      shmemInode: shared && name.hasPrefix("/dev/zero") ? inode : nil)
    return SmapsVMA(info: info, rssPages: 0, anonPages: 0)
  }

  private static func hex(_ s: ArraySlice<UInt8>) -> UInt64? { UInt64(String(decoding: s, as: UTF8.self), radix: 16) }

  private static func kilobytes(_ line: ArraySlice<UInt8>) -> Int {
    var value = 0
    var seen = false
    for b in line {
      if (0x30...0x39).contains(b) {
        value = value * 10 + Int(b - 0x30)
        seen = true
      } else if seen {
        break
      }
    }
    return value
  }
}

extension String {
  var trimmingSpaces: String {
    var s = Substring(self)
    while s.first == " " || s.first == "\t" { s.removeFirst() }
    while s.last == " " || s.last == "\t" { s.removeLast() }
    return String(s)
  }
}
