/// Parses `# mops: …` comments:
///
/// ```
/// # mops: skip linux: the 2014 remap_anon_pages syscall exists only in the model
/// # mops: only sim, both: needs the model's cost counters
/// # mops: needs root, userfaultfd: frame identity comes from /proc/kpageflags
/// # mops: expect-error E0204 E0201
/// ```
/// KEY ARG… [: reason]. Arguments are separated by spaces or commas.
enum DirectiveParser {
  // directive = "#" "mops:" KEY { ARG } [ ":" REASON ]
  static func parse(_ buf: UnsafeBufferPointer<UInt8>, _ range: SourceRange, _ diagnostics: inout DiagnosticBag)
    -> Directive?
  {
    let text = String(decoding: UnsafeBufferPointer(rebasing: buf[range.start..<range.end]), as: UTF8.self)
    let body: Substring
    var reason: String?
    if let colon = text.firstIndex(of: ":") {
      body = text[..<colon]
      let r = text[text.index(after: colon)...].trimmingCharacters(in: " \t")
      reason = r.isEmpty ? nil : r
    } else {
      body = text[...]
    }
    let words = body.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map(String.init)
    let keys = ["skip", "only", "needs", "expect-error"]
    guard let key = words.first else {
      diagnostics.report(
        .invalidDirective, at: range,
        "empty directive; write `# mops: skip linux: reason`, `only`, `needs` or `expect-error`")
      return nil
    }
    let args = Array(words.dropFirst())
    func bad(_ message: String) -> Directive? {
      diagnostics.report(.invalidDirective, at: range, message)
      return nil
    }
    switch key {
    case "skip", "only":
      guard !args.isEmpty else { return bad("`\(key)` needs one or more backends (sim, linux, both)") }
      var backends: [BackendName] = []
      for a in args {
        guard let b = BackendName(rawValue: a) else {
          return bad(
            "unknown backend `\(abbreviated(a))`"
              + KernelNames.didYouMean(a, among: BackendName.allCases.map(\.rawValue)) + " (backends: sim, linux, both)"
          )
        }
        backends.append(b)
      }
      guard reason != nil else {
        return bad("say why after a colon, as in `# mops: \(key) \(abbreviated(args.joined(separator: ", "))): reason`")
      }
      return Directive(kind: key == "skip" ? .skip(backends) : .only(backends), reason: reason, range: range)
    case "needs":
      guard !args.isEmpty else {
        return bad(
          "`needs` names what the fixture needs: " + Requirement.allCases.map(\.rawValue).joined(separator: ", "))
      }
      var requirements: [Requirement] = []
      for a in args {
        guard let r = Requirement(rawValue: a) else {
          return bad(
            "unknown requirement `\(abbreviated(a))`"
              + KernelNames.didYouMean(a, among: Requirement.allCases.map(\.rawValue))
              + " (requirements: " + Requirement.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        requirements.append(r)
      }
      return Directive(kind: .needs(requirements), reason: reason, range: range)
    case "expect-error":
      guard !args.isEmpty else { return bad("`expect-error` lists diagnostic IDs, as in `# mops: expect-error E0204`") }
      var ids: [DiagnosticID] = []
      for a in args {
        guard a.count == 5, a.first == "E" || a.first == "W", a.dropFirst().allSatisfy(\.isNumber) else {
          return bad("`\(abbreviated(a))` is not a diagnostic ID such as E0204")
        }
        ids.append(DiagnosticID(rawValue: a))
      }
      return Directive(kind: .expectError(ids), reason: reason, range: range)
    default:
      return bad(
        "unknown directive `\(abbreviated(key))`" + KernelNames.didYouMean(key, among: keys)
          + " (directives: skip, only, needs, expect-error)")
    }
  }
}

extension StringProtocol {
  /// The string without leading and trailing characters from `set`.
  func trimmingCharacters(in set: String) -> String {
    var s = self[...]
    while let f = s.first, set.contains(f) { s = s.dropFirst() }
    while let l = s.last, set.contains(l) { s = s.dropLast() }
    return String(s)
  }
}
