;; Writes 64 KiB blocks to stdout for ever (to stderr when given any argument), the way a
;; chatty workload whose reader has stopped reading would. Exits with the errno of a failed write.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (func (export "_start")
    (local $fd i32)
    (local $e i32)
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (local.set $fd (select (i32.const 1) (i32.const 2) (i32.le_u (i32.load (i32.const 0)) (i32.const 1))))
    (memory.fill (i32.const 65536) (i32.const 120) (i32.const 65536))
    (i32.store (i32.const 16) (i32.const 65536))
    (i32.store (i32.const 20) (i32.const 65536))
    (loop $l
      (local.set $e (call $fd_write (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 24)))
      (if (local.get $e) (then (call $proc_exit (local.get $e))))
      (br $l))))
