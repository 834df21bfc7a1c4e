;; Trap kinds, each in a named function (wat2wasm --debug-names keeps the names).
(module
  (memory (export "memory") 1)
  (func $crash_unreachable (export "unreachable") (result i32) unreachable)
  (func $crash_oob (export "oob") (result i32) (i32.load (i32.const 0x7ffffff0)))
  (func $crash_div0 (export "div0") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
  (func $recurse (export "recurse") (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $add (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  ;; Grows memory by one page and then reads its last byte: must work after the buffer moved.
  (func $grow_and_touch (export "grow_and_touch") (result i32)
    (drop (memory.grow (i32.const 1)))
    (i32.store8 (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1)) (i32.const 42))
    (i32.load8_u (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1))))
  (func $_start (export "_start") (drop (call $crash_unreachable))))
