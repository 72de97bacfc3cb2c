//! The `planrun` command line, built inside the end-to-end test package.

fn main() -> std::process::ExitCode {
    engine::cli::main()
}
