//! The machinery every resource kind shares, below the resource modules
//! (`cluster`, `nodepool`, `status`) and importing none of them: stored
//! rows and lookups, labels, pagination, updates, status settling,
//! deletion, the change feed's log and the wire form of rows, and the pure
//! phase rules.

pub mod deletion;
pub mod feed;
pub mod idempotency;
pub mod labels;
pub mod page;
pub mod phase;
pub mod reference;
pub mod row;
pub mod settle;
pub mod update;
pub mod wire;
