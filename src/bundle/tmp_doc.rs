#[test]
fn tmp_complete_example() {
    let text = std::fs::read_to_string("/tmp/crdw/complete.yaml").unwrap();
    let b = super::Bundle::from_yaml(&text).unwrap();
    let env = super::Environment {
        backend_urls: [("backend-github".to_string(), "http://127.0.0.1:1/mcp".to_string())].into(),
    };
    let r = b.reconcile(&env);
    for c in &r.conditions {
        println!("{c}");
    }
    println!("{:?}", r.runtime.is_some());
}
