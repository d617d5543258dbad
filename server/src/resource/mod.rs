//! The machinery every resource kind shares, below the resource modules
//! (`cluster`, `nodepool`, `status`) and importing none of them: stored
//! rows and lookups, labels, pagination, updates, status settling,
//! deletion, and the pure phase rules.

pub mod deletion;
pub mod labels;
pub mod page;
pub mod phase;
pub mod reference;
pub mod row;
pub mod settle;
pub mod update;
