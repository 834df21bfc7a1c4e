;; Fills 1 GiB of memory from random_get, again and again: one host call that computes for
;; seconds. The time and CPU limits must still end it on time.
(module
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 16384)
  (func (export "_start")
    (local $e i32)
    (loop $l
      (local.set $e (call $random_get (i32.const 0) (i32.const 0x40000000)))
      (if (local.get $e) (then (call $proc_exit (local.get $e))))
      (br $l))))
