// Which WebAssembly features this browser has, for worker-loader.js (which worker build to start)
// and sw.js (which one to keep offline). A classic script: both load it with importScripts.
//
// Relaxed SIMD: does the engine validate a module whose one function is
//   (func (param v128 v128 v128) (result v128)
//     (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get 0) (local.get 1) (local.get 2)))
// (opcode 0xfd 0x113)? Chromium has it since 114, Firefox behind a flag, Safari not yet.
self.tokenmeterRelaxedSimd = (() => {
  try {
    return WebAssembly.validate(new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
      0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type: (v128 v128 v128) → v128
      0x03, 0x02, 0x01, 0x00, // one function of that type
      0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, // code: three local.get
      0xfd, 0x93, 0x02, 0x0b, // i32x4.relaxed_dot_i8x16_i7x16_add_s, end
    ]));
  } catch {
    return false;
  }
})();
