//! The `Driver` vocabulary: the docker-machine commands GitLab Runner's `docker+machine`
//! provider runs (spec §3.9, §3.10, §3.12; cloud-faults §1.3), their outcomes, and a typed error
//! taxonomy. The autoscaler core emits [`DriverCall`]s; whoever owns the core (the simulator's
//! fake cloud, or live mode's docker-machine CLI) executes them and hands back a
//! [`Completion`] with the same [`CallId`], later — or never, in which case the core's own
//! timeout fires (spec §3.12).
//!
//! # Listing the machine store
//!
//! docker-machine keeps its machines as directories on local disk, and GitLab Runner lists them
//! with a plain directory read (spec §2.5, cloud-faults §1.3): no process, no network, no
//! timeout. The core therefore never *asks* for a listing. Instead the owner passes the current
//! listing, a [`StoreListing`], **with every input** (`Core::handle` and `Core::handle_timeout`
//! take `&StoreListing`). The core reads it only when its algorithm lists (Acquire's load step,
//! Use's find-existing step), at the same virtual instant, and never keeps it.
//!
//! Why this design: it is the simplest one that keeps the core free of IO and of re-entrancy.
//! A "listing needed" action would have to suspend the core mid-step (Acquire lists, then decides
//! synchronously under its lock) and every owner would have to answer it before any other input
//! anyway; a callback trait would let IO into the core. Passing a snapshot costs the owner one
//! directory read (live) or one borrowed `Vec` (simulator) per input.

mod call;
mod error;
mod listing;

pub use call::{CallId, CallKind, Completion, DriverCall, DriverState, Timeouts};
pub use error::{DriverError, DriverErrorKind, ProvisioningStage};
pub use listing::StoreListing;
