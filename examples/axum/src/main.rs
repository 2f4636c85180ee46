//! The axum example service; see the library docs (`src/lib.rs`) for what it does.

fn main() -> std::process::ExitCode {
    kvref_example_axum::main()
}
