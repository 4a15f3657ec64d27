//! The autoscaler core: GitLab Runner's `docker+machine` provider (spec §2–§3 as corrected by
//! §0) as a sans-IO state machine. See [`Core`] for the driving contract and
//! [`crate::cloud`] for the driver vocabulary.
//!
//! Layout: [`machine`] records, states and tallies (§2); [`naming`] names and the ownership
//! filter (§2.5); [`policy`] the idle target, admission and removal decisions (§3.2, §3.3,
//! §3.8); [`coordinator`] the per-runner coordinator (§3.7); [`metrics`] (§3.13); [`events`]
//! the decision log; `acquire`, `use_machine`, `create`, `removal` the operations (§3.4, §3.6,
//! §3.9–§3.11) as `impl Core` blocks; [`timers`] plumbing; named random streams come from [`crate::random`].
//!
//! [`drain`]: the provider's Shutdown and the shutdown drain (§4), entered with
//! [`Input::Shutdown`]; it follows the records' in-flight create/removal operations through
//! their signals.

mod acquire;
pub mod api;
pub mod coordinator;
mod core;
mod create;
pub mod drain;
pub mod events;
pub mod machine;
pub mod metrics;
pub mod naming;
pub mod policy;
mod removal;
pub mod timers;
mod use_machine;

pub use self::core::{CAN_CONNECT_CACHE, Core, CoreOptions, RemovalPhase, Sabotage};
pub use api::{AcquireError, Acquired, Action, Input, RequestId, UseError, UsedMachine};
pub use drain::{
    DrainEvent, DrainEventKind, DrainSummary, REASON_SHUTDOWN_DRAIN, SHORT_SHUTDOWN_TIMEOUT,
    ShutdownStatus,
};
pub use events::{Event, EventKind};
pub use machine::{MachineState, Record, Tally};
pub use removal::REMOVE_RETRY_INTERVAL;
pub use use_machine::{
    CANNOT_CONNECT, PROVISION_RETRY_INTERVAL, USE_ATTEMPTS, WAITER_POLL_INTERVAL,
};
