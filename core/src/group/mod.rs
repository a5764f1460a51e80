//! Consumer groups: the assignors the group leader runs (range, roundrobin, sticky,
//! cooperative-sticky) and the group coordinator of the classic protocol.

pub mod assignor;
pub mod coordinator;
pub mod java;
pub mod storage;
