;; _start never returns: only the time limit stops it.
(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $l (br $l))))
