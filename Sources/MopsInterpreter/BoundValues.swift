import MopsABI
import MopsSyntax

extension Interpreter {
  /// The range binding `id` holds now (a region follows its mapping through
  /// `mremap`); nil when it holds no range or has no value.
  public func range(of id: BindingID) -> (start: VirtAddr, length: UInt64)? {
    guard case .range(let start, let length)? = values[id] else { return nil }
    return (start, length)
  }

  /// The process binding `id` names; nil when it names none or has no value.
  public func process(of id: BindingID) -> PID? {
    guard case .process(let pid)? = values[id] else { return nil }
    return pid
  }
}
