//! How the `planrun` binary's allocator (mimalloc, set in main.rs) treats freed memory.

/// Keeps freed memory in the process for reuse instead of returning it to the OS.
///
/// mimalloc returns ("purges") freed pages 10 ms after they are freed. Planning a large plan
/// frees and allocates hundreds of MiB over and over, and the kernel zeroed every returned page
/// again when it was touched next: a third of the time of `planrun plan` on 1,000 canaries
/// (docs/benchmarks.md). planrun's processes are short (validate, plan, apply) or steady in
/// size (a watch), so keeping the pages costs nothing a user sees.
///
/// (mimalloc is also built without transparent huge pages, the `no_thp` feature in the workspace's
/// Cargo.toml: zeroing a 2 MiB page took this VM anything from nothing to 5 ms.)
///
/// Only the process's global allocator is affected, and only where it is mimalloc.
pub fn keep_freed_memory() {
    // mimalloc.h (v2 and v3 alike): `mi_option_purge_delay` is option 15, and -1 never purges.
    const PURGE_DELAY: std::ffi::c_int = 15;
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    // SAFETY: mimalloc's options are plain integers that it reads atomically; setting one
    // has no other effect.
    unsafe { mi_option_set(PURGE_DELAY, -1) }
}
