// The C library's allocator on a small box. With glibc, memory freed in the middle of the heap
// stays resident until the heap's top is freed; start-up and a reload free much more than they
// keep. Elsewhere (musl on OpenWrt) the call does nothing.
//
// Not done, on purpose: one malloc arena for every thread (mallopt(M_ARENA_MAX, 1)). It saved
// about 0.4 MiB when idle, but made the heap fragment across reloads: in tools/soak, RSS after
// warm-up grew by 1,376 KiB with it against 664 KiB without (limit 1,024; docs/PERFORMANCE.md).
#pragma once

namespace portier::platform {

// Gives the pages of freed memory back to the kernel (malloc_trim): after start-up, whose
// parsing and compiling free much more than they keep, and after a reload.
void release_free_memory();

}  // namespace portier::platform
