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
    // The compiler wrapper every target's build runs through: cargo starts it as
    // `grader RUSTC ARGS...`, with the plan in the environment (see check/rustc_sandbox.rs).
    if std::env::var_os(grader::check::rustc_sandbox::PLAN_VAR).is_some() {
        grader::check::rustc_sandbox::wrapper_main(&args);
    }
    grader::cli::main()
}
