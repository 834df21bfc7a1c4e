;; Grows memory one page at a time until refused, then aborts (as a C program whose malloc
;; returned NULL would).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable))
