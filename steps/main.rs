//! `cargo test --test bdd`: the whole Gherkin suite against the reference target.
//!
//! libtest arguments that `cargo test` forwards (`--nocapture`, a name filter, …) are mapped to
//! cucumber's own options by the runner.

#[path = "mod.rs"]
mod suite;

fn main() {
    let code = suite::runner::main_for_cargo_test();
    std::process::exit(code);
}
