//! The `simrun` binary: see `simrun --help`.

fn main() -> std::process::ExitCode {
    simrun::cli::main()
}
