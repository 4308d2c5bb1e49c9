print("mops-bench")
