//! SIMD WebAssembly kernels of mlc-convert.
//!
//! Every export works on byte offsets into the module's linear memory (`extern "C"`, no
//! allocator, no static mutable state): the TypeScript wrapper (`src/kernels/wasm.ts`) places
//! inputs and outputs above `heap_base()` and grows memory as needed. The memory is imported
//! (`env.memory`) and `__stack_pointer` exported: because no kernel keeps state in memory,
//! several instances (one per worker) can run on one shared memory, each given its own stack
//! region and working region.
//!
//! Each kernel has a scalar path (the exact semantics, mirroring `src/quant/reference.ts`) next
//! to its `simd128` path, which must give identical bits.
#![no_std]

pub mod convert;
pub mod dequantize;
pub mod finite;
pub mod fused;
pub mod matmul;
pub mod md5;
pub mod quantize;
pub mod transpose;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

extern "C" {
    static __heap_base: u8;
}

/// First free byte of linear memory (above data and stack).
#[no_mangle]
pub extern "C" fn heap_base() -> usize {
    unsafe { &__heap_base as *const u8 as usize }
}

/// ABI version of the exports, checked by the wrapper.
#[no_mangle]
pub extern "C" fn abi_version() -> u32 {
    1
}
