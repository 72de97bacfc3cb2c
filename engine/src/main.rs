//! The `planrun` binary: only glue around `engine::cli`.

// mimalloc: checking a large plan allocates millions of small strings and frees them at
// once, where glibc's allocator spent a quarter of the time (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    engine::allocator::keep_freed_memory();
    engine::cli::main()
}
