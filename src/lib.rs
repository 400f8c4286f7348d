//! ioc-sensor: finds command-and-control contacts in network traffic.
//!
//! Packets come from capture files or a live interface ([`capture`]); worker threads decode
//! them ([`decode`]), track flows and reassemble TCP ([`flow`]), pull out DNS names, TLS SNI
//! and HTTP hosts ([`proto`]), match them against the indicator set ([`intel`]) and write
//! Suricata-compatible EVE JSON ([`eve`]). [`pipeline`] wires the threads together;
//! [`inspect`] is the per-packet path of one worker.
//!
//! Dependencies point one way: `capture`, `decode`, `proto`, `intel`, `eve` know nothing of
//! each other's callers; `flow` uses `decode` and `proto`; `inspect` uses all of them;
//! `pipeline` runs `capture` and `inspect` on threads. `mix` holds the mixing step that the
//! hand-written hashes share, `prefetch` the memory hints of the read and flow paths.

pub mod capture;
pub mod cli;
pub mod decode;
pub mod eve;
pub mod flow;
mod hugepages;
pub mod inspect;
pub mod intel;
mod mix;
pub mod pipeline;
mod prefetch;
pub mod proto;
