// The C library's allocator on a small box. With glibc, every thread that allocates gets an arena
// of its own (up to 8 per core), each a 64 MiB reservation whose touched pages stay resident, and
// memory freed in the middle of the heap stays resident until the heap's top is freed. Elsewhere
// (musl on OpenWrt: no per-thread arenas) both calls do nothing.
#pragma once

namespace portier::platform {

// One arena for every thread: call first thing in main(), before any thread starts. glibc's
// per-thread caches (tcache) still serve small allocations without taking the arena's lock.
void use_one_malloc_arena();

// Gives the pages of freed memory back to the kernel (malloc_trim): after start-up, whose
// parsing and compiling free much more than they keep, and after a reload.
void release_free_memory();

}  // namespace portier::platform
