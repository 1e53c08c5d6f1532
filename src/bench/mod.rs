//! `vmcp-conformance bench <name>`: benchmarks that print their figures. Speed and memory
//! targets live here, never in timed tests.

/// The benchmarks, by the name given on the command line, with what each measures.
pub const BENCHES: &[(&str, &str)] = &[
    (
        "authserver",
        "embedded authorization server: logins/s through 1 and 2 upstreams, token endpoint p50/p99, memory per 10,000 sessions",
    ),
    (
        "gateway",
        "tools/call p50/p99 and throughput through the vMCP (anonymous, upstreamInject, tokenExchange) vs direct",
    ),
    (
        "storage",
        "per-operation latency and login-path throughput: memory, standalone Redis, Redis via Sentinel (with replicas \
         and WAIT); time from killing the master to the first write after failover",
    ),
    ("verify-docs", "verify-docs over ../shared/reference/docs: blocks/s vs merely reading and parsing the pages"),
];

/// Runs the benchmark called `name` and prints its figures.
pub async fn run(name: &str) -> Result<(), String> {
    // One arm per benchmark module (`"storage" => storage::run().await,`).
    #[allow(clippy::match_single_binding)]
    match name {
        "verify-docs" => crate::docs::verify::bench::run(),
        "gateway" => crate::vmcp::bench::run().await,
        "storage" => crate::storage::bench::run().await,
        "authserver" => crate::authserver::bench::run().await,
        other => {
            let known: Vec<&str> = BENCHES.iter().map(|(n, _)| *n).collect();
            Err(format!("unknown benchmark `{other}`; known: {}", known.join(", ")))
        }
    }
}
