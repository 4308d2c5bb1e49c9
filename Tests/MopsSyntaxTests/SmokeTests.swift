import Testing

@testable import MopsSyntax

@Test func intendedFeelScriptChecksCleanly() {
  checkClean(
    """
    src = mmap 4 pages                 # anon private rw, top-down in the arena
    dst = mmap 4 pages
    touch src[0...3] write 'A'         # write-fault each page, store 'A'
    f = frame src[0]
    u = userfaultfd
    register u dst missing
    remap dst <- src via u             # UFFDIO_MOVE of the whole range
    assert frame dst[0] == f           # zero copy: the very same page
    assert vmas == 2
    child = fork
    remap dst[0] <- src[0] via u  => EBUSY      # expected outcome on the statement
    on child { touch dst[0] write 'B' }
    show maps
    """)
}
