;; proc_exit with the code in the first 4 bytes of data; the test patches nothing: code is 300.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $proc_exit (i32.const 300))))
