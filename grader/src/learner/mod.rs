//! The learner's side: where they are in the course ([`progress`], [`journey`]), the starters as
//! shipped ([`starters`], [`starter_lock`]) that `reset` restores, re-checking on save ([`watch`])
//! and the live progress line on a terminal ([`live`]).

pub mod journey;
pub mod live;
pub mod progress;
pub mod starter_lock;
pub mod starters;
pub mod watch;
