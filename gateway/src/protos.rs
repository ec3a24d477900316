//! Protobuf descriptions as plain data, shared by the config (which
//! validates routes against them) and the gRPC bridge and composition
//! (which transcode with them).
//!
//! * [`descriptors`]: compile .proto files with protox, find methods.
//! * [`http_rule`] + [`path_template`]: `google.api.http` annotations and
//!   their templates, turned into route patterns.
//! * [`bindings`]: how a transcoded route builds its request message (path
//!   variables, body field) and its JSON policy.
//! * [`DescriptorSet`]: the compiled descriptors as bytes, which is what
//!   the config keeps; the prost-reflect pool that answers requests is
//!   decoded from it when the snapshot is built (`Snapshot::build`).
//!
//! Nothing here does I/O at request time or knows a handler.

pub mod bindings;
pub mod descriptors;
pub mod http_rule;
pub mod path_template;

use std::sync::Arc;

use prost_reflect::DescriptorPool;

/// A compiled `FileDescriptorSet`, encoded: plain, comparable data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorSet(Arc<[u8]>);

impl DescriptorSet {
    /// The encoded form of `pool`.
    pub fn of(pool: &DescriptorPool) -> Self {
        Self(Arc::from(pool.encode_to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Decodes the set into a pool (runtime use: `Snapshot::build`).
    pub fn decode(&self) -> Result<DescriptorPool, prost_reflect::DescriptorError> {
        DescriptorPool::decode(self.as_bytes())
    }
}
