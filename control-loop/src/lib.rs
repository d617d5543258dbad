//! The HyperFleet control loop, as a client of the API: it reaches the
//! server only through the SDK, so it builds without the server and runs
//! against any HyperFleet deployment.

pub mod local;
pub mod metrics;
pub mod reference_adapters;
pub mod sentinel;
