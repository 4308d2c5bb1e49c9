// Models the release of a userfaultfd in Linux 6.18: the file's last reference going
// away (close, exit, or the last of several processes holding it after fork) runs
// userfaultfd_release() → userfaultfd_release_all(), which unregisters every VMA of
// the context's mm still registered with it (userfaultfd_clear_vma(): the whole VMA,
// so it may merge with its neighbours but never splits). Left out: waking threads
// blocked in handle_userfault() (the model never leaves one blocked).
import MopsABI

extension World {
  /// Drops process `mm`'s file reference on userfaultfd `id` (its fd is closed); the
  /// last reference releases the context (``releaseUffd(_:)``).
  func closeUffdFile(_ mm: MM, _ id: UserfaultfdCtx.ID) {
    mm.uffds.remove(id)
    guard uffds[id] != nil else { return }
    uffds[id]!.holders.remove(mm.pid)
    if uffds[id]!.holders.isEmpty { releaseUffd(id) }
  }

  /// `userfaultfd_release()`: forgets context `id` and, if its mm still lives
  /// (`mmget_not_zero()`), clears the registration (ctx and VM_UFFD_* flags) of every
  /// VMA registered with it, in address order, through `vma_modify()`.
  func releaseUffd(_ id: UserfaultfdCtx.ID) {
    guard let ctx = uffds.removeValue(forKey: id), let mm = processes[ctx.mm] else { return }
    var cursor = VirtAddr(0)
    while let vma = mm.vmas.findVMA(cursor) {
      cursor = vma.vmEnd
      guard vma.uffd == id else { continue }
      // The change covers the whole VMA: vma_modify() can only merge, never split,
      // so it cannot fail.
      if let result = try? vmaModify(mm, vma.vmStart, vma.vmEnd, { v in
        v.uffd = nil
        v.vmFlags.subtract(.uffdAll)
      }) {
        cursor = result.vmEnd
      }
    }
  }
}
