// Accounting records shared by every backend: cost counters and page provenance.

/// Provenance of a page that is not exclusive: who maps it and since when.
public struct Sharing: Hashable, Sendable {
  public var pfn: PFN
  /// Every process whose page table maps the page.
  public var mappedBy: [PID]
  /// The tag (source line) of the fork that made it shared, and that fork's child.
  public var sinceTag: Int?
  public var sinceForkChild: PID?

  public init(pfn: PFN, mappedBy: [PID], sinceTag: Int?, sinceForkChild: PID?) {
    self.pfn = pfn
    self.mappedBy = mappedBy
    self.sinceTag = sinceTag
    self.sinceForkChild = sinceForkChild
  }
}

/// Counters of the work the model did, to compare operations by cost.
public struct CostCounters: Hashable, Sendable {
  public var vmasAllocated = 0
  public var vmaSplits = 0
  public var vmaMerges = 0
  public var vmasFreed = 0
  public var ptesChanged = 0
  public var pagesAllocated = 0
  public var pagesZeroed = 0
  public var pagesCopied = 0
  public var pagesFreed = 0
  public var tlbFlushRanges = 0
  public var faults = 0

  public init() {}

  /// Name/value pairs in display order.
  public var fields: [(String, Int)] {
    [
      ("vmas_allocated", vmasAllocated), ("vma_splits", vmaSplits), ("vma_merges", vmaMerges),
      ("vmas_freed", vmasFreed), ("ptes_changed", ptesChanged),
      ("pages_allocated", pagesAllocated), ("pages_zeroed", pagesZeroed),
      ("pages_copied", pagesCopied), ("pages_freed", pagesFreed),
      ("tlb_flush_ranges", tlbFlushRanges), ("faults", faults),
    ]
  }

  /// The counters accumulated since `base`.
  public func since(_ base: CostCounters) -> CostCounters {
    var d = CostCounters()
    d.vmasAllocated = vmasAllocated - base.vmasAllocated
    d.vmaSplits = vmaSplits - base.vmaSplits
    d.vmaMerges = vmaMerges - base.vmaMerges
    d.vmasFreed = vmasFreed - base.vmasFreed
    d.ptesChanged = ptesChanged - base.ptesChanged
    d.pagesAllocated = pagesAllocated - base.pagesAllocated
    d.pagesZeroed = pagesZeroed - base.pagesZeroed
    d.pagesCopied = pagesCopied - base.pagesCopied
    d.pagesFreed = pagesFreed - base.pagesFreed
    d.tlbFlushRanges = tlbFlushRanges - base.tlbFlushRanges
    d.faults = faults - base.faults
    return d
  }
}
