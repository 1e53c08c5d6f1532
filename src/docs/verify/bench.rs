//! `vmcp-conformance bench verify-docs`: blocks per second over the docs corpus, against the time
//! to merely read and parse the same pages.

use std::path::PathBuf;
use std::time::Instant;

use super::schema::SchemaSet;
use super::{Options, pages, verify_dir};

/// The corpus: `$VMCP_CONFORMANCE_SHARED/reference/docs` (default `../shared` beside the package).
fn corpus() -> (PathBuf, PathBuf) {
    let shared = std::env::var_os("VMCP_CONFORMANCE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    (shared.join("reference/docs"), shared.join("reference/crds"))
}

/// Runs the benchmark and prints its figures.
pub fn run() -> Result<(), String> {
    let (docs, crds) = corpus();
    let rounds = 5;
    let list = pages(&docs).map_err(|e| format!("{e} (set VMCP_CONFORMANCE_SHARED to the shared/ folder)"))?;
    // Baseline: read every page and parse it (markdown-rs), nothing else.
    let mut parse_best = f64::MAX;
    let mut blocks = 0usize;
    for _ in 0..rounds {
        let t = Instant::now();
        blocks = 0;
        for rel in &list {
            let bytes = std::fs::read(docs.join(rel)).map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&bytes);
            let b = crate::docs::mdx::page_blocks(&text, rel.ends_with(".mdx"));
            blocks += b.blocks.iter().filter(|b| b.lang == "yaml" || b.lang == "yml").count();
        }
        parse_best = parse_best.min(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let mut schemas = SchemaSet::from_dir(&crds)?;
    let load = t.elapsed().as_secs_f64();
    let mut cold = 0.0;
    let mut warm_best = f64::MAX;
    for round in 0..rounds {
        let t = Instant::now();
        let report = verify_dir(&docs, &mut schemas, &Options::default())?;
        let s = t.elapsed().as_secs_f64();
        if round == 0 {
            cold = s + load;
        } else {
            warm_best = warm_best.min(s);
        }
        blocks = report.blocks.len();
    }
    let fresh = {
        let t = Instant::now();
        let mut schemas = SchemaSet::from_dir(&crds)?;
        verify_dir(&docs, &mut schemas, &Options::default())?;
        t.elapsed().as_secs_f64()
    };
    println!("verify-docs benchmark over {} ({} pages, {blocks} YAML blocks)", docs.display(), list.len());
    println!(
        "  read + parse only (best of {rounds}):     {:8.1} ms  {:10.0} blocks/s",
        parse_best * 1e3,
        blocks as f64 / parse_best
    );
    println!("  CRD load ({}):        {:8.1} ms", crds.display(), load * 1e3);
    println!("  verify, first run incl. CRD load:  {:8.1} ms  {:10.0} blocks/s", cold * 1e3, blocks as f64 / cold);
    println!("  verify, fresh process-equivalent:  {:8.1} ms  {:10.0} blocks/s", fresh * 1e3, blocks as f64 / fresh);
    println!(
        "  verify, warm schema cache (best):  {:8.1} ms  {:10.0} blocks/s",
        warm_best * 1e3,
        blocks as f64 / warm_best
    );
    println!("  verify / parse ratio (fresh):      {:8.1}x", fresh / parse_best);
    Ok(())
}
