//! Federated GraphQL on `/graphql`: composition of subgraph SDLs into a
//! supergraph, planning with `hive-router-query-planner`, and our own
//! executor of the plans on the gateway's upstream stack.

pub mod compose;
pub mod error;
pub mod execute;
pub mod supergraph;
