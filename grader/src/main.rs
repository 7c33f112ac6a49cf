//! The `grader` command: see [`grader::cli`].

fn main() -> std::process::ExitCode {
    grader::cli::main()
}
