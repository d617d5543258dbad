//! The reference adapters (`hyperfleet adapter --name validation|dns|infrastructure`),
//! built on the SDK's adapter kit: simulated work of a configurable length
//! and failure rate, and the same for cleanup.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hyperfleet_sdk::adapter::{Adapter, AdapterError, Outcome, Resource};
use hyperfleet_sdk::events::ResourceKind;

/// The adapters the reference deployment runs, with the kinds each serves
/// (the API's defaults require all three for clusters, and validation and
/// infrastructure for node pools).
pub const REFERENCE_ADAPTERS: [(&str, &[ResourceKind]); 3] = [
    (
        "validation",
        &[ResourceKind::Cluster, ResourceKind::NodePool],
    ),
    ("dns", &[ResourceKind::Cluster]),
    (
        "infrastructure",
        &[ResourceKind::Cluster, ResourceKind::NodePool],
    ),
];

/// The kinds a reference adapter of this name serves.
pub fn kinds_of(name: &str) -> &'static [ResourceKind] {
    REFERENCE_ADAPTERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, kinds)| *kinds)
        .unwrap_or(&[ResourceKind::Cluster, ResourceKind::NodePool])
}

/// How a simulated adapter behaves.
#[derive(Clone, Debug)]
pub struct Simulation {
    /// How long one attempt takes.
    pub work: Duration,
    /// The chance, 0 to 1, that an attempt fails.
    pub failure_rate: f64,
    /// Fail this many attempts first, whatever the rate (to show recovery).
    pub fail_first: u32,
}

/// An adapter that pretends to provision.
pub struct SimulatedAdapter {
    name: String,
    kinds: Vec<ResourceKind>,
    simulation: Simulation,
    attempts: AtomicU32,
}

impl SimulatedAdapter {
    pub fn new(name: &str, kinds: &[ResourceKind], simulation: Simulation) -> Self {
        SimulatedAdapter {
            name: name.to_string(),
            kinds: kinds.to_vec(),
            simulation,
            attempts: AtomicU32::new(0),
        }
    }

    async fn attempt(&self, resource: &Resource, what: &str) -> Result<Outcome, AdapterError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.simulation.work).await;
        if attempt < self.simulation.fail_first || chance() < self.simulation.failure_rate {
            return Err(AdapterError(format!(
                "simulated failure while {what} {} (attempt {})",
                resource.id(),
                attempt + 1
            )));
        }
        Ok(Outcome::done(format!(
            "{} {what} generation {}",
            self.name,
            resource.generation()
        )))
    }
}

#[async_trait::async_trait]
impl Adapter for SimulatedAdapter {
    fn name(&self) -> &str {
        &self.name
    }

    fn kinds(&self) -> &[ResourceKind] {
        &self.kinds
    }

    async fn reconcile(&self, resource: &Resource) -> Result<Outcome, AdapterError> {
        self.attempt(resource, "reconciled").await
    }

    async fn finalize(&self, resource: &Resource) -> Result<Outcome, AdapterError> {
        self.attempt(resource, "finalized").await
    }
}

/// A number in [0, 1) from the operating system's randomness (through
/// UUIDv4), so no RNG crate is needed for a simulation.
fn chance() -> f64 {
    // The low 62 bits of a v4 UUID are random (the version and variant
    // bits sit above them); 53 of them fill an f64 mantissa.
    let bits = uuid::Uuid::new_v4().as_u128() & ((1u128 << 53) - 1);
    bits as f64 / (1u64 << 53) as f64
}
