//! The contract checker itself: documented examples conform, broken bodies
//! do not, and the proxy in front of every test server really checks.

use hyperfleet_e2e::calls::create_cluster;
use hyperfleet_e2e::contract::Contract;
use hyperfleet_e2e::{TestServer, on_every_backend};
use serde_json::{Value, json};

on_every_backend!(the_proxy_checks_what_tests_receive);

/// Every `example` in the document (on schemas and on request bodies)
/// conforms to the schema it illustrates.
#[test]
fn every_documented_example_conforms() {
    let contract = Contract::get();
    let document = contract.document();
    let mut checked = 0;
    let mut errors = Vec::new();
    let schemas = document["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (name, schema) in &schemas {
        if let Some(example) = schema.get("example") {
            contract.validate(schema, example, name, &mut errors);
            checked += 1;
        }
    }
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let media = &operation["requestBody"]["content"]["application/json"];
            if let (Some(schema), Some(example)) = (media.get("schema"), media.get("example")) {
                contract.validate(schema, example, &format!("{method} {path}"), &mut errors);
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} examples found");
    assert!(errors.is_empty(), "{errors:#?}");
}

/// The checker refuses what the contract forbids, so a passing e2e suite
/// means something.
#[test]
fn broken_responses_are_caught() {
    let contract = Contract::get();
    let path = "/api/hyperfleet/v1/clusters/my-cluster";
    let mut cluster: Value =
        contract.document()["components"]["schemas"]["Cluster"]["example"].clone();
    let good = serde_json::to_vec(&cluster).unwrap_or_default();
    assert_eq!(contract.check("GET", path, 200, &good), Ok(true));

    let broken = |change: &dyn Fn(&mut Value)| {
        let mut body = cluster.clone();
        change(&mut body);
        contract.check(
            "GET",
            path,
            200,
            &serde_json::to_vec(&body).unwrap_or_default(),
        )
    };
    assert!(broken(&|b| drop(b.as_object_mut().map(|o| o.remove("name")))).is_err());
    assert!(broken(&|b| b["status"]["phase"] = json!("Sleeping")).is_err());
    assert!(broken(&|b| b["id"] = json!("not-a-uuid")).is_err());
    assert!(broken(&|b| b["generation"] = json!("1")).is_err());
    assert!(broken(&|b| b["created_at"] = json!("yesterday")).is_err());
    // An error body must have the error shape, and a 201 is not documented here.
    assert!(
        contract
            .check("GET", path, 404, br#"{"message": "gone"}"#)
            .is_err()
    );
    assert!(contract.check("GET", path, 201, &good).is_err());
    // Paths outside the document are not judged.
    assert_eq!(
        contract.check("GET", "/nowhere", 404, b"not json"),
        Ok(false)
    );
    cluster["extra_field"] = json!(true);
    assert_eq!(
        contract.check(
            "GET",
            path,
            200,
            &serde_json::to_vec(&cluster).unwrap_or_default()
        ),
        Ok(true),
        "additional response fields are allowed"
    );
}

async fn the_proxy_checks_what_tests_receive(server: TestServer) {
    create_cluster(&server.client, "checked").await;
    let missing = server.client.cluster_view().cluster("nope").send().await;
    assert!(missing.is_err());
    let checked = server
        .contract
        .findings
        .checked
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(checked, 2, "both answers were checked");
    assert!(server.contract.violations().is_empty());
}
