//! `vmcp-conformance bench <name>`: benchmarks that print their figures. Speed and memory
//! targets live here, never in timed tests.

/// The benchmarks, by the name given on the command line, with what each measures.
pub const BENCHES: &[(&str, &str)] = &[];

/// Runs the benchmark called `name` and prints its figures.
pub async fn run(name: &str) -> Result<(), String> {
    // One arm per benchmark module (`"storage" => storage::run().await,`).
    #[allow(clippy::match_single_binding)]
    match name {
        other => {
            let known: Vec<&str> = BENCHES.iter().map(|(n, _)| *n).collect();
            Err(format!("unknown benchmark `{other}`; known: {}", known.join(", ")))
        }
    }
}
