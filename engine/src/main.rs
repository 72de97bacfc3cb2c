//! The `planrun` binary: only glue around `engine::cli`.

fn main() -> std::process::ExitCode {
    engine::cli::main()
}
