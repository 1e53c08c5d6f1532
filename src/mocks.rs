//! The harness's mocks outside a run: `vmcp-conformance mock-idps --listen ADDR`, and the order of
//! the mock backends on the fixed ports shared with the url target (`--mocks-listen`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use mock_idps::standalone::{Layout, Standalone};

/// fixtures/backends.yaml: MCPServer name -> tools (`default` for any other name).
pub fn backend_catalogue() -> Result<BTreeMap<String, Vec<String>>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/backends.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_saphyr::from_str(&text).map_err(|e| format!("{} is not a map of backend -> tools: {e}", path.display()))
}

/// The port index of backend `name` among `names` (the MCPServers a deployment has): the
/// catalogue's backends first, in name order, then the others in name order. The standalone mocks
/// and the url target agree on it, so a configuration written once stays valid.
pub fn backend_index(catalogue: &BTreeMap<String, Vec<String>>, names: &[String], name: &str) -> usize {
    let known: Vec<&String> = catalogue.keys().filter(|k| *k != "default").collect();
    if let Some(i) = known.iter().position(|k| *k == name) {
        return i;
    }
    let mut others: Vec<&String> = names.iter().filter(|n| !catalogue.contains_key(*n)).collect();
    others.sort();
    others.dedup();
    known.len() + others.iter().position(|n| *n == name).unwrap_or(others.len())
}

/// Starts every mock on `listen` and its following ports, prints what an operator needs, and
/// serves until SIGTERM or Ctrl-C.
pub async fn serve_standalone(listen: SocketAddr) -> Result<(), String> {
    let layout = Layout::new(listen)?;
    let catalogue = backend_catalogue()?;
    let backends: Vec<(String, Vec<String>)> =
        catalogue.iter().filter(|(name, _)| *name != "default").map(|(n, t)| (n.clone(), t.clone())).collect();
    let mocks = Standalone::start(layout, &backends).await?;
    println!("{}", mocks.describe());
    println!("mock-idps ready on {listen} (SIGTERM or Ctrl-C stops)");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(mocks);
    println!("mock-idps stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_backends_come_first_then_the_others_by_name() {
        let catalogue: BTreeMap<String, Vec<String>> = [("b", 1), ("a", 1), ("default", 1)]
            .into_iter()
            .map(|(k, _)| (k.to_string(), vec!["echo".to_string()]))
            .collect();
        let names: Vec<String> = ["z", "b", "y"].iter().map(|s| s.to_string()).collect();
        assert_eq!(backend_index(&catalogue, &names, "a"), 0);
        assert_eq!(backend_index(&catalogue, &names, "b"), 1);
        assert_eq!(backend_index(&catalogue, &names, "y"), 2);
        assert_eq!(backend_index(&catalogue, &names, "z"), 3);
    }
}
