//! The custom-provider example (`examples/cmdb_discovery.rs`) run as a test: its
//! provider, written only against the public trait, is run by the discovery manager,
//! and a change in the inventory reaches the scrape side.

#[path = "../examples/cmdb_discovery.rs"]
mod example;

fn row(role: &str, host: &str, owner: &str) -> (String, String, String) {
    (role.into(), host.into(), owner.into())
}

#[tokio::test]
async fn a_cmdb_provider_runs_in_the_manager_and_follows_the_inventory() {
    let seen = example::run().await.expect("the example runs");
    assert_eq!(
        seen[0],
        [
            row("db", "db-1", "storage-team"),
            row("web", "web-1", "frontend-team"),
            row("web", "web-2", "frontend-team"),
        ]
    );
    assert_eq!(
        seen[1],
        [
            row("db", "db-1", "storage-team"),
            row("db", "web-2", "frontend-team"),
            row("web", "web-1", "frontend-team"),
        ]
    );
}
