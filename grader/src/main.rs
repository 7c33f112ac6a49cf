//! The `grader` command: see [`grader::cli`].

fn main() -> std::process::ExitCode {
    // The sandbox launcher every check starts through (hidden: see check/sandbox.rs).
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args
        .first()
        .is_some_and(|a| a == grader::check::sandbox::LAUNCHER_ARG)
    {
        grader::check::sandbox::launcher_main(&args[1..]);
    }
    grader::cli::main()
}
