//! The `hyperfleet` command's wiring of the API server and the control loop,
//! as a library so the end-to-end tests start `dev` the way the binary does.

pub mod dev;
