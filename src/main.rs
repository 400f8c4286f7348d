//! `ioc-sensor`: see the crate documentation and `ioc-sensor --help`.

fn main() -> std::process::ExitCode {
    ioc_sensor::cli::main()
}
