//! How a lesson declares its checks.

use std::time::Duration;

pub use crate::protocol::Finding;
use crate::protocol::{Kind, Measures};

/// A check passes with `Ok(())` and fails with a [`Finding`] that explains itself.
pub type Outcome = Result<(), Finding>;

/// One named check of a lesson. The grader runs each in its own process with its own time limit.
#[derive(Clone, Copy)]
pub struct Check {
    pub name: &'static str,
    pub kind: Kind,
    pub timeout: Duration,
    /// What a timing check measures (see [`Measures`]): what it may run beside.
    pub measures: Option<Measures>,
    pub run: fn() -> Outcome,
}

impl Check {
    /// A check of `kind` with that kind's default time limit ([`Kind::default_timeout_secs`]).
    /// Lessons write [`check!`](crate::check!) instead, which takes the name from the function.
    pub const fn new(name: &'static str, kind: Kind, run: fn() -> Outcome) -> Check {
        Check {
            name,
            kind,
            timeout: Duration::from_secs(kind.default_timeout_secs()),
            measures: None,
            run,
        }
    }
    /// Behaviour on one thread.
    pub const fn unit(name: &'static str, run: fn() -> Outcome) -> Check {
        Check::new(name, Kind::Unit, run)
    }
    /// Many threads, many repetitions.
    pub const fn stress(name: &'static str, run: fn() -> Outcome) -> Check {
        Check::new(name, Kind::Stress, run)
    }
    /// Timing properties; say what they measure with [`Check::measures`] (`check!(timing, f,
    /// measures = cpu)`): CPU ones run alone, wall-clock ones beside other checks.
    pub const fn timing(name: &'static str, run: fn() -> Outcome) -> Check {
        Check::new(name, Kind::Timing, run)
    }
    /// loom model checks.
    pub const fn model(name: &'static str, run: fn() -> Outcome) -> Check {
        Check::new(name, Kind::Model, run)
    }
    /// What this timing check measures.
    pub const fn measures(mut self, measures: Measures) -> Check {
        self.measures = Some(measures);
        self
    }
    /// Overrides the time limit of this check.
    pub const fn timeout_secs(mut self, secs: u64) -> Check {
        self.timeout = Duration::from_secs(secs);
        self
    }
}

/// Declares one check, named after its function, so a check's name is written once:
///
/// ```ignore
/// pub const CHECKS: &[Check] = &[
///     check!(unit, std_checks::counter_one_thread),
///     check!(timing, std_checks::fetches_overlap, measures = wall, timeout = 40),
///     check!(timing, std_checks::waiters_dont_spin, measures = cpu),
/// ];
/// ```
/// The name the grader, the curriculum and the reports use is the function's own
/// (`counter_one_thread`); the function may sit in one module (`std_checks::`). A timing check
/// says what it measures, `cpu` or `wall` ([`Measures`]); the grader reads all of this from the
/// kit's `checks.rs` itself (`grader/src/check/declared.rs`), in this order.
#[macro_export]
macro_rules! check {
    ($kind:ident, $module:ident :: $function:ident
        $(, measures = $measures:ident)? $(, timeout = $secs:expr)?) => {
        $crate::check::Check::$kind(stringify!($function), $module::$function)
            $(.measures($crate::measures!($measures)))?
            $(.timeout_secs($secs))?
    };
    ($kind:ident, $function:ident $(, measures = $measures:ident)? $(, timeout = $secs:expr)?) => {
        $crate::check::Check::$kind(stringify!($function), $function)
            $(.measures($crate::measures!($measures)))?
            $(.timeout_secs($secs))?
    };
}

/// `cpu` or `wall`, as `check!` takes them, to a [`Measures`].
#[doc(hidden)]
#[macro_export]
macro_rules! measures {
    (cpu) => {
        $crate::protocol::Measures::Cpu
    };
    (wall) => {
        $crate::protocol::Measures::Wall
    };
}

/// A program a check starts as a child process (lesson 10's workers): the harness binary started
/// again as `harness child NAME ARGS...`, which runs `run(ARGS)` and exits with what it returns,
/// before anything of a check runs. Inside the sandbox the harness binary is the only program a
/// check may execute, so this is how a check gets programs of its own. See
/// [`runner::child_command`](crate::runner::child_command).
#[derive(Clone, Copy)]
pub struct Child {
    pub name: &'static str,
    pub run: fn(&[String]) -> i32,
}

/// Declares one child program, named after its function (as [`check!`](crate::check!) does):
///
/// ```ignore
/// pub const CHILDREN: &[Child] = &[child!(children::script)];
/// ```
#[macro_export]
macro_rules! child {
    ($module:ident :: $function:ident) => {
        $crate::check::Child {
            name: stringify!($function),
            run: $module::$function,
        }
    };
}

impl Finding {
    /// A failure of `property`, stated as what should hold ("no increment is lost").
    pub fn new(property: impl Into<String>) -> Finding {
        Finding {
            property: property.into(),
            ..Finding::default()
        }
    }
    /// What the check saw ("8 threads x 100 000 increments gave 412 334, not 800 000").
    pub fn observed(mut self, text: impl Into<String>) -> Finding {
        self.observed = text.into();
        self
    }
    /// Why that happens.
    pub fn why(mut self, text: impl Into<String>) -> Finding {
        self.why = text.into();
        self
    }
    /// What to try.
    pub fn fix(mut self, text: impl Into<String>) -> Finding {
        self.fix = text.into();
        self
    }
    /// The lesson hint (1-based) that helps.
    pub fn hint(mut self, n: u32) -> Finding {
        self.hint = Some(n);
        self
    }
    pub fn detail(mut self, text: impl Into<String>) -> Finding {
        self.detail = text.into();
        self
    }
    /// What each thread was blocked on (see [`crate::hang`]).
    pub fn blocked(mut self, blocked: Vec<crate::protocol::Blocked>) -> Finding {
        self.blocked = blocked;
        self
    }
    /// Fails the check from anywhere, including inside a loom model or a helper thread: the runner
    /// recognises the payload and reports this finding as it is.
    pub fn raise(self) -> ! {
        std::panic::panic_any(self)
    }
}

/// `Ok(())` when `cond` holds, else the finding `otherwise` builds.
pub fn ensure(cond: bool, otherwise: impl FnOnce() -> Finding) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(otherwise())
    }
}
