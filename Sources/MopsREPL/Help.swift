/// `:help` and `:help TOPIC`: one short entry per statement (its production from
/// grammar.md, what it does, an example), plus outcomes and observations.
enum Help {
  struct Entry {
    /// The topic word (`touch`, `=>`, `observations`).
    var topic: String
    var synopsis: String
    var text: String
    /// Lines taken from grammar.md's examples; they check in a session holding regions
    /// `r`, `src`, `dst`, `d`, a userfaultfd `u`, a frame `f` and a process `child`
    /// (the tests check both).
    var example: [String]
  }

  static let entries: [Entry] = [
    Entry(
      topic: "mmap", synopsis: "NAME = mmap SIZE [at ADDR] [prot PROT] [shared|fixed|noreplace|populate|…] [flags N]",
      text: "Maps anonymous memory (private, read-write unless told), top-down in the arena; NAME follows the mapping.",
      example: [
        "r = mmap 4 pages                          # anon private rw, top-down in the arena",
        "s = mmap 2M shared                        # MAP_SHARED|MAP_ANONYMOUS (shmem)",
        "n = mmap 16K at 0x100000200000 noreplace  # MAP_FIXED_NOREPLACE   => EEXIST if taken",
      ]),
    Entry(
      topic: "munmap", synopsis: "munmap TARGET",
      text: "Unmaps a range; the VMA around it splits if needed.",
      example: ["munmap r[1...2]"]),
    Entry(
      topic: "mprotect", synopsis: "mprotect TARGET PROT",
      text: "Changes the protection of a range (READ, WRITE, EXEC, NONE, joined with |).",
      example: ["mprotect r[1] READ"]),
    Entry(
      topic: "madvise", synopsis: "madvise TARGET ADVICE",
      text: "Gives advice on a range (DONTFORK, DONTNEED, WIPEONFORK, … with or without MADV_).",
      example: [
        "madvise r[0] DONTFORK",
        "madvise r MADV_WIPEONFORK                 # the MADV_ prefix is optional",
      ]),
    Entry(
      topic: "mremap", synopsis: "[NAME =] mremap TARGET [to SIZE] [at ADDR] [maymove|fixed|dontunmap] [flags N]",
      text: "Grows, shrinks or moves a mapping; a region name follows it to its new address.",
      example: [
        "big = mremap r to 8 pages maymove         # may move; `big` names the result",
        "mremap r maymove fixed at 0x100000400000  # pure move to an exact address",
      ]),
    Entry(
      topic: "touch", synopsis: "touch TARGET [read | write [BYTE]]",
      text: "Accesses every page of TARGET as a load or store would, faulting pages in; `write 'A'` fills each page with the byte.",
      example: [
        "touch r[0...3] write 'A'      # write-fault each page and fill it with 'A'",
        "touch r[0]                    # read access (the default)",
        "touch r[2] => SIGSEGV SEGV_ACCERR",
      ]),
    Entry(
      topic: "write", synopsis: "write ADDR DATA…",
      text: "Stores strings and byte values at an address, byte by byte.",
      example: [
        "write r + 16 \"hi\\n\"           # byte-level store at an address (may cross pages)",
        "write r[1] 'x' 0 255          # strings, characters and byte values, concatenated",
      ]),
    Entry(
      topic: "read", synopsis: "read TARGET",
      text: "Loads every byte of TARGET.",
      example: ["read r[1] + 16 len 4          # byte-level load of every byte of the range"]),
    Entry(
      topic: "fork", synopsis: "[NAME =] fork",
      text: "Forks the current process; NAME is the child, for `on` and `in`.",
      example: ["child = fork                  # `child` names the new process"]),
    Entry(
      topic: "exit", synopsis: "exit [PROCESS]",
      text: "Ends a process (the current one when none is named).",
      example: ["exit child                    # same as `on child exit`"]),
    Entry(
      topic: "on", synopsis: "on PROCESS { … } | on PROCESS STATEMENT",
      text: "Runs statements in another process.",
      example: [
        "on child touch dst[0] write 'B'          # one statement in another process",
        "on child { touch dst[0] write 'B'; exit }",
      ]),
    Entry(
      topic: "for", synopsis: "for NAME in A...B { … }  (or A..<B)",
      text: "Repeats a block; the body may not bind names.",
      example: ["for i in 0...3 { touch r[i] write i }"]),
    Entry(
      topic: "userfaultfd", synopsis: "NAME = userfaultfd [nonblock|cloexec|user_mode_only] [flags N]",
      text: "Opens a userfaultfd in the current process.",
      example: [
        "u = userfaultfd                               # flags 0",
        "v = userfaultfd nonblock cloexec user_mode_only",
      ]),
    Entry(
      topic: "api", synopsis: "api UFFD [version N] [features WORD… | features N]",
      text: "UFFDIO_API: agrees on the API and features.",
      example: ["api u features move event_fork"]),
    Entry(
      topic: "register", synopsis: "register UFFD TARGET [missing|wp|minor] [mode N]",
      text: "UFFDIO_REGISTER: watches a range for faults.",
      example: ["register u dst                                # mode MISSING when no mode is given"]),
    Entry(
      topic: "unregister", synopsis: "unregister UFFD TARGET",
      text: "UFFDIO_UNREGISTER: stops watching a range.",
      example: ["unregister u dst[1...2]"]),
    Entry(
      topic: "close", synopsis: "close UFFD",
      text: "Closes a userfaultfd.",
      example: ["close u"]),
    Entry(
      topic: "remap", synopsis: "remap DST <- SRC via UFFD [allow_src_holes] [dontwake] [mode N]",
      text: "UFFDIO_MOVE (Linux 6.8): moves pages from SRC to DST without copying them.",
      example: [
        "remap dst <- src via u                        # UFFDIO_MOVE of the whole range",
        "remap dst[0] <- src[0] via u => EBUSY",
      ]),
    Entry(
      topic: "remap_anon_pages", synopsis: "remap_anon_pages DST <- SRC [allow_src_holes] [flags N]",
      text: "The 2014 remap_anon_pages syscall (sim only), to compare with UFFDIO_MOVE.",
      example: ["remap_anon_pages dst <- src                   # Andrea Arcangeli's 2014 syscall (sim only)"]),
    Entry(
      topic: "copy", synopsis: "copy DST <- SRC via UFFD [dontwake] [wp] [mode N]",
      text: "UFFDIO_COPY: fills DST with a copy of SRC.",
      example: ["copy dst[1] <- src[1] via u                   # UFFDIO_COPY"]),
    Entry(
      topic: "zeropage", synopsis: "zeropage DST via UFFD [dontwake] [mode N]",
      text: "UFFDIO_ZEROPAGE: maps the zero page at DST.",
      example: ["zeropage dst[2] via u                         # UFFDIO_ZEROPAGE"]),
    Entry(
      topic: "pin", synopsis: "pin TARGET",
      text: "Pins the pages (FOLL_PIN | FOLL_LONGTERM, like an io_uring fixed buffer).",
      example: ["pin r[0...1]                  # FOLL_PIN|FOLL_LONGTERM|FOLL_WRITE (io_uring fixed buffer)"]),
    Entry(
      topic: "unpin", synopsis: "unpin TARGET",
      text: "Releases pins taken by `pin`.",
      example: ["unpin r[0...1]"]),
    Entry(
      topic: "assert", synopsis: "assert CONDITION [, \"message\"]",
      text: "Checks an observation; a false one prints the values that made it so.",
      example: [
        "assert frame dst[0] == f",
        "assert vmas == 2, \"no VMA created or destroyed\"",
      ]),
    Entry(
      topic: "print", synopsis: "print EXPR {, EXPR}",
      text: "Prints values: frames, mapcounts, contents, ranges, processes.",
      example: ["print \"vmas:\", vmas, rss"]),
    Entry(
      topic: "show", synopsis: "show maps | show pages TARGET | show tree | show stats",
      text: "Prints a view: the VMAs, a page table, the process tree, the cost counters.",
      example: [
        "show maps                         # the current process's VMAs, maps lines with VmFlags",
        "show pages src[0...3]             # one line per page: state, frame, mapcount, flags, contents",
      ]),
    Entry(
      topic: "expect", synopsis: "expect VIEW { LINES }",
      text: "The view's text must equal the lines (blank lines and indentation aside).",
      example: [
        "expect maps {",
        "  100000000000-100000004000 rw-p 00000000  rd wr mr mw me ac",
        "}",
      ]),
    Entry(
      topic: "let", synopsis: "[let] NAME = EXPR",
      text: "Captures a value now, to compare with later.",
      example: [
        "f = frame src[0]                  # capture a value now (`let` is optional)",
        "let n = mapcount src[0] in child",
      ]),
    Entry(
      topic: "=>", synopsis: "STATEMENT => ok | ERRNO | SIGNAL [CODE] | userfault | not modelled [moved SIZE] [at ADDR]",
      text: "The outcome the statement must have; without one, it must succeed.",
      example: [
        "mmap 0 => EINVAL",
        "remap dst <- src via u allow_src_holes dontwake => EAGAIN moved 8K",
        "touch d[0] => userfault at d[0]",
      ]),
    Entry(
      topic: "observations", synopsis: "frame mapcount exclusive anon_exclusive present zeropage none writable contents byte ADDR · "
        + "flags prot mapped vma_start vma_end ADDR · size RANGE · vmas rss anon_pages · moved errno result · cost COUNTER",
      text: "Per page, per VMA, per range, per process (add `in PROCESS`), and of the last statement.",
      example: [
        "let n = mapcount src[0] in child",
        "assert frame dst[0] == f",
        "print \"vmas:\", vmas, rss",
      ]),
  ]

  /// Every topic, for completion.
  static let topics = entries.map(\.topic)

  /// The overview `:help` prints.
  static var overview: String {
    let statements = entries.map(\.topic).filter { $0 != "=>" && $0 != "observations" }
    return """
      Statements (one per line; `:help NAME` explains one):
      \(wrap(statements.joined(separator: " "), indent: "  "))
      Also `:help =>` (expected outcomes) and `:help observations`.
      Sizes: 4 pages, 1 page, 16K, 2M, 0x1000. Pages: r[0], r[1...3], r[0..<2]; ranges: ADDR len SIZE.

      Commands:
      \(MetaCommand.summary)

      An unfinished statement or `{` block continues on the next line (`...>`).
      Ctrl-C abandons the line or block; Ctrl-D on an empty line leaves; TAB completes;
      Ctrl-R searches the history.
      """
  }

  /// The text of `:help TOPIC`, or nil for an unknown topic.
  static func text(for topic: String) -> String? {
    guard let e = entries.first(where: { $0.topic == topic }) else { return nil }
    let example = e.example.map { "    " + $0 }.joined(separator: "\n")
    return "\(e.synopsis)\n  \(e.text)\n  example:\n\(example)"
  }

  private static func wrap(_ text: String, indent: String, width: Int = 80) -> String {
    var lines: [String] = []
    var line = indent
    for word in text.split(separator: " ") {
      if line.count + word.count + 1 > width && line != indent {
        lines.append(line)
        line = indent
      }
      line += (line == indent ? "" : " ") + word
    }
    lines.append(line)
    return lines.joined(separator: "\n")
  }
}
