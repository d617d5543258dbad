//! The harness of the end-to-end tests: a real `hyperfleet` server bound to
//! 127.0.0.1:0 on a fresh database (a SQLite file in a temp dir, or a new
//! PostgreSQL database), driven only through the generated SDK, and the
//! helpers every test file shares.
//!
//! PostgreSQL tests need a server at `HYPERFLEET_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Where there is none they
//! print why and pass without running, unless `HYPERFLEET_REQUIRE_POSTGRES=1`
//! or `CI` is set: then a missing server fails the test, so CI cannot
//! silently skip them.
//!
//! Every response a test receives passes through [`contract::Proxy`], which
//! checks it against openapi.yaml; a test fails on any violation.
//!
//! Where things are: [`server`] starts servers and finds external
//! services; [`fixtures`] builds what tests send; [`calls`] makes the SDK
//! calls tests expect to succeed and reads the errors of the others;
//! [`http`] sends what the SDK cannot; [`wait`] polls until the control
//! loop gets somewhere. A helper two test files need belongs here.

pub mod calls;
pub mod contract;
pub mod fixtures;
pub mod http;
pub mod server;
pub mod wait;

pub use server::{Backend, TestServer};
