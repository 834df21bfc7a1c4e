;; Imports WASI's fd_write with the wrong type ((i32) -> i32 instead of four i32s): strict
;; linking refuses it before _start runs (exit 78, runtime.module.invalid), instead of a
;; TypeError trap at the first call.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $fd_write (i32.const 1)))))
