//! Consumer groups: the assignors the group leader runs (range, roundrobin, sticky,
//! cooperative-sticky). The group coordinator comes next.

pub mod assignor;
pub mod java;
