//! The documentation under test: code blocks with their line numbers and headings.
//!
//! `blocks` is the line-based fence reader; it never fails on input, so it also serves as the
//! fallback for pages an MDX parser rejects.

pub mod blocks;
pub mod mdx;
pub mod verify;

pub use blocks::{CodeBlock, extract_blocks, heading_anchor};

use std::path::{Path, PathBuf};

/// Where the docs snapshot lives: `$VMCP_CONFORMANCE_DOCS`, else `../shared/reference/docs/toolhive`
/// beside the package.
pub fn docs_root() -> PathBuf {
    if let Some(p) = std::env::var_os("VMCP_CONFORMANCE_DOCS") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/docs/toolhive")
}

/// Reads one page (`guides-vmcp/embedded-auth-server-vmcp.mdx`) of the docs snapshot.
pub fn read_page(page: &str) -> Result<(PathBuf, String), String> {
    let path = docs_root().join(page);
    std::fs::read(&path).map(|bytes| (path.clone(), String::from_utf8_lossy(&bytes).into_owned())).map_err(|e| {
        format!(
            "cannot read the docs page {}: {e}. The suite reads ToolHive's docs at run time; \
                 set VMCP_CONFORMANCE_DOCS to the folder holding guides-vmcp/, concepts/, … \
                 (the docs-website's docs/toolhive)",
            path.display()
        )
    })
}
