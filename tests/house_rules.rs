//! Rule 1 of ARCHITECTURE.md: steps are black-box. Nothing under steps/ may reach the reference
//! implementation's internals, or a vendor run could not use the same steps.

use std::path::Path;

#[test]
fn steps_do_not_import_the_reference_implementation() {
    let steps = Path::new(env!("CARGO_MANIFEST_DIR")).join("steps");
    let forbidden = [
        "vmcp_conformance::authserver",
        "vmcp_conformance::vmcp",
        "vmcp_conformance::storage",
        "vmcp_conformance::bundle",
    ];
    let mut offenders = Vec::new();
    for entry in std::fs::read_dir(&steps).expect("steps/ exists") {
        let path = entry.expect("readable dir entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("readable step file");
            for (n, line) in text.lines().enumerate() {
                if forbidden.iter().any(|f| line.contains(f)) {
                    offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "steps must use only `target` and HTTP:\n{}", offenders.join("\n"));
}
