;; Starts with 64 MiB of memory.
(module
  (memory (export "memory") 1024)
  (func (export "_start")))
