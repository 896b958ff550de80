//! The C memory routines the compiler calls for struct copies and
//! zeroing, as byte loops.
//!
//! compiler_builtins' versions copy word by word, with paths for every
//! alignment, and give the 4- and 8-byte-aligned AEABI entry points bodies
//! of their own: about 1.4 KiB of a 16 KiB part. A tag copies a few
//! hundred bytes per event, so a byte loop's speed does not matter, and
//! eighteen instructions serve every entry point. Written in assembly so
//! the compiler cannot turn the loops back into calls to themselves. The
//! library's definitions are weak; the linker takes these.
//!
//! Each loop runs from the end down: `subs` sets the flags that end it, and
//! copying down is as good as up for `memcpy`, whose regions never
//! overlap. `memmove` stays the library's.

core::arch::global_asm!(
    ".section .text.aisle_mem,\"ax\",%progbits",
    ".thumb",
    // memcpy(dest r0, src r1, n r2) -> dest; the AEABI ones return nothing.
    ".global memcpy",
    ".global __aeabi_memcpy",
    ".global __aeabi_memcpy4",
    ".global __aeabi_memcpy8",
    ".thumb_func",
    "memcpy:",
    ".thumb_func",
    "__aeabi_memcpy:",
    ".thumb_func",
    "__aeabi_memcpy4:",
    ".thumb_func",
    "__aeabi_memcpy8:",
    "    cmp r2, #0",
    "    beq 2f",
    "1:  subs r2, #1",
    "    ldrb r3, [r1, r2]",
    "    strb r3, [r0, r2]",
    "    bne 1b",
    "2:  bx lr",
    // __aeabi_memclr(dest r0, n r1): memset with 0.
    ".global __aeabi_memclr",
    ".global __aeabi_memclr4",
    ".global __aeabi_memclr8",
    ".thumb_func",
    "__aeabi_memclr:",
    ".thumb_func",
    "__aeabi_memclr4:",
    ".thumb_func",
    "__aeabi_memclr8:",
    "    movs r2, #0",
    // __aeabi_memset(dest r0, n r1, c r2): note the AEABI argument order.
    ".global __aeabi_memset",
    ".global __aeabi_memset4",
    ".global __aeabi_memset8",
    ".thumb_func",
    "__aeabi_memset:",
    ".thumb_func",
    "__aeabi_memset4:",
    ".thumb_func",
    "__aeabi_memset8:",
    "    cmp r1, #0",
    "    beq 4f",
    "3:  subs r1, #1",
    "    strb r2, [r0, r1]",
    "    bne 3b",
    "4:  bx lr",
    // memset(dest r0, c r1, n r2) -> dest.
    ".global memset",
    ".thumb_func",
    "memset:",
    "    cmp r2, #0",
    "    beq 6f",
    "5:  subs r2, #1",
    "    strb r1, [r0, r2]",
    "    bne 5b",
    "6:  bx lr",
);
