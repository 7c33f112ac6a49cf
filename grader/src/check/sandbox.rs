//! The sandbox every check runs in, set up before the harness is executed (Linux).
//!
//! The grader starts itself in a hidden mode, `grader __sandbox`, which is the launcher:
//!
//! ```text
//! grader ── launcher (unshares user, network, PID and IPC namespaces; brings loopback up)
//!             └── init, PID 1 of the new PID namespace (waits for the check, then exits: the
//!                  │  kernel then kills everything left in the namespace)
//!                  └── the check: rlimits, no_new_privs, parent-death signal, Landlock, a minimal
//!                      environment, then exec of `harness run NAME`
//! ```
//!
//! The check reports over fd [`RECORD_FD`], one end of a socket pair the grader made: a socket can't
//! be reopened through `/proc/self/fd`, the harness marks it close-on-exec before any lesson code
//! runs, and safe Rust has no way to write to a file descriptor by number. Before exec the check's
//! process writes the protections in force as the first line of that channel.
//!
//! Where the kernel refuses a protection the launcher goes on without it and says so: the list is in
//! every report. Elsewhere than Linux there is no launcher: checks run as plain processes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use grader_harness::protocol::RECORD_FD;

/// The first argument of the hidden launcher mode.
pub const LAUNCHER_ARG: &str = "__sandbox";

/// Every protection the launcher can set up, by the name reports use.
pub const ALL: [&str; 9] = [
    USER_NS,
    NET_NS,
    PID_NS,
    IPC_NS,
    LANDLOCK,
    NO_NEW_PRIVS,
    RLIMITS,
    PDEATHSIG,
    CLEAN_ENV,
];
pub const USER_NS: &str = "user-ns";
pub const NET_NS: &str = "net-ns";
pub const PID_NS: &str = "pid-ns";
pub const IPC_NS: &str = "ipc-ns";
pub const LANDLOCK: &str = "landlock";
pub const NO_NEW_PRIVS: &str = "no-new-privs";
pub const RLIMITS: &str = "rlimits";
pub const PDEATHSIG: &str = "pdeathsig";
pub const CLEAN_ENV: &str = "clean-env";
/// Not one of [`ALL`]: only a grader started as root can give it (see [`CHECK_USER_ENV`]), and a
/// grader that is not root needs none.
pub const RUN_AS_USER: &str = "run-as-user";

/// A grader running as root (Gradescope's container, say) runs every check as the user this
/// variable names instead: the code under test then cannot write what root owns (the results,
/// the grader's files) or signal the grader, even where the kernel allows no namespace.
pub const CHECK_USER_ENV: &str = "GRADER_CHECK_USER";

/// The first line the check's process writes on the record channel, before exec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxLine {
    pub protections: Vec<String>,
}

/// What the launcher is told.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The check's own folder: its working directory, the only place it may write.
    pub scratch: PathBuf,
    /// Processes and threads at once (RLIMIT_NPROC inside the sandbox's user namespace).
    pub max_tasks: u64,
    /// The user and group the check runs as (from [`CHECK_USER_ENV`]); `None`: the grader's own.
    pub run_as: Option<(u32, u32)>,
    /// The program to run and its arguments (the harness binary first).
    pub program: Vec<std::ffi::OsString>,
}

impl Plan {
    /// The launcher's arguments, after [`LAUNCHER_ARG`].
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            LAUNCHER_ARG.into(),
            "--scratch".into(),
            self.scratch.clone().into_os_string(),
            "--max-tasks".into(),
            self.max_tasks.to_string().into(),
        ];
        if let Some((uid, gid)) = self.run_as {
            args.extend(["--run-as".into(), format!("{uid}:{gid}").into()]);
        }
        args.push("--".into());
        args.extend(self.program.iter().cloned());
        args
    }

    #[cfg(target_os = "linux")]
    fn from_args(args: &[std::ffi::OsString]) -> Option<Plan> {
        let mut scratch = None;
        let mut max_tasks = 1024;
        let mut run_as = None;
        let mut i = 0;
        while i < args.len() {
            match args[i].to_str()? {
                "--scratch" => scratch = Some(PathBuf::from(args.get(i + 1)?)),
                "--max-tasks" => max_tasks = args.get(i + 1)?.to_str()?.parse().ok()?,
                "--run-as" => {
                    let (uid, gid) = args.get(i + 1)?.to_str()?.split_once(':')?;
                    run_as = Some((uid.parse().ok()?, gid.parse().ok()?));
                }
                "--" => {
                    return Some(Plan {
                        scratch: scratch?,
                        max_tasks,
                        run_as,
                        program: args[i + 1..].to_vec(),
                    })
                }
                _ => return None,
            }
            i += 2;
        }
        None
    }
}

/// The user [`CHECK_USER_ENV`] names, as (uid, gid), when the grader runs as root; read once. A
/// grader that is not root ignores it (its checks already run unprivileged, as itself); for root
/// an unknown name is an error: checks must not quietly run as root after all.
pub fn check_user() -> Result<Option<(u32, u32)>, String> {
    static USER: std::sync::OnceLock<Result<Option<(u32, u32)>, String>> =
        std::sync::OnceLock::new();
    USER.get_or_init(|| {
        let Some(name) = std::env::var_os(CHECK_USER_ENV).filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        let name = name.to_string_lossy().into_owned();
        user_ids(&name).ok_or_else(|| {
            format!("{CHECK_USER_ENV}={name}: no such user here (create it first, e.g. `useradd --system --no-create-home {name}`)")
        })
    })
    .clone()
}

/// `Some(None)`: not root, nothing to drop.
#[cfg(target_os = "linux")]
fn user_ids(name: &str) -> Option<Option<(u32, u32)>> {
    if !nix::unistd::geteuid().is_root() {
        return Some(None);
    }
    let user = nix::unistd::User::from_name(name).ok()??;
    Some(Some((user.uid.as_raw(), user.gid.as_raw())))
}

/// Elsewhere there is no launcher to drop privileges in: root's checks would stay root.
#[cfg(not(target_os = "linux"))]
fn user_ids(_name: &str) -> Option<Option<(u32, u32)>> {
    None
}

/// Whether checks run through the launcher on this system.
pub fn supported() -> bool {
    cfg!(target_os = "linux")
}

/// The grader's own program, which starts each check as `grader __sandbox`. On Linux that is
/// `/proc/self/exe`, the image this process runs, so a grader rebuilt while it runs (a learner's
/// `cargo build`, a kit author's) still starts its checks, where the path would name a file that
/// is gone.
pub fn launcher() -> std::path::PathBuf {
    if cfg!(target_os = "linux") {
        return "/proc/self/exe".into();
    }
    std::env::current_exe().unwrap_or_else(|_| "grader".into())
}

/// The protections a check gets here, found once by running the launcher in probe mode (the same
/// code path as a real check, up to the exec).
pub fn in_force() -> &'static [String] {
    static PROBED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    PROBED.get_or_init(|| {
        if !supported() {
            return Vec::new();
        }
        let exe = launcher();
        let Ok(scratch) = tempfile::tempdir() else {
            return Vec::new();
        };
        let plan = Plan {
            scratch: scratch.path().to_path_buf(),
            max_tasks: 64,
            run_as: check_user().ok().flatten(),
            program: vec!["--probe".into()],
        };
        let out = std::process::Command::new(exe)
            .args(plan.to_args())
            .env_clear()
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output();
        out.ok()
            .and_then(|o| serde_json::from_slice::<SandboxLine>(&o.stdout).ok())
            .map(|l| l.protections)
            .unwrap_or_default()
    })
}

/// The protections of [`ALL`] missing from `have`.
pub fn missing(have: &[String]) -> Vec<&'static str> {
    ALL.into_iter()
        .filter(|p| !have.iter().any(|h| h == p))
        .collect()
}

/// What a check gets where there is no sandbox (see `process.rs` and `record.rs`), said once.
const ELSEWHERE: &str = if cfg!(windows) {
    "sandbox: none on Windows (Linux only): each check ran in a job object (time limit, whole tree killed, committed-memory cap, thread and output watchdog) with a clean environment; no network, file-system or process isolation"
} else if cfg!(target_os = "macos") {
    "sandbox: none on macOS (Linux only): each check ran in a process group (time limit, group killed, no core dumps, memory, thread and output watchdog) with a clean environment; no network, file-system or process isolation"
} else {
    "sandbox: none on this system (Linux only): each check ran in a process group with a time limit and a clean environment; no network, file-system or process isolation"
};

/// The line human reports show: which protections the checks had, and which this system lacks.
pub fn describe(have: &[String]) -> Option<String> {
    if !supported() {
        return Some(ELSEWHERE.into());
    }
    if have.is_empty() {
        return Some("sandbox: none could be set up here: checks ran as plain processes".into());
    }
    let missing = missing(have);
    Some(if missing.is_empty() {
        format!("sandbox: {}", have.join(", "))
    } else {
        format!(
            "sandbox: {} (missing here: {})",
            have.join(", "),
            missing.join(", ")
        )
    })
}

/// `grader __sandbox ...`: never returns.
#[cfg(target_os = "linux")]
pub fn launcher_main(args: &[std::ffi::OsString]) -> ! {
    match Plan::from_args(args) {
        Some(plan) => linux::launch(&plan),
        None => {
            eprintln!("grader: internal: bad launcher arguments");
            std::process::exit(125)
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub fn launcher_main(_args: &[std::ffi::OsString]) -> ! {
    eprintln!("grader: the sandbox launcher exists only on Linux");
    std::process::exit(125)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::{CString, OsString};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use nix::sched::{unshare, CloneFlags};
    use nix::sys::prctl;
    use nix::sys::resource::Resource;
    use nix::sys::signal::Signal;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, getegid, geteuid, ForkResult, Pid};

    use super::*;

    /// Exit code for "the sandbox itself failed" (never a check's own).
    const SETUP_FAILED: i32 = 125;

    pub fn launch(plan: &Plan) -> ! {
        let mut have: Vec<String> = Vec::new();
        // First, while still root: hand the scratch folder to the check's user and become it.
        // (Changing credentials clears the parent-death signal, so that comes after.)
        if let Some((uid, gid)) = plan.run_as {
            drop_to(&plan.scratch, uid, gid);
            have.push(RUN_AS_USER.into());
        }
        // The launcher dies with the grader's thread that started it; init and the check follow.
        if prctl::set_pdeathsig(Signal::SIGKILL).is_ok() {
            have.push(PDEATHSIG.into());
        }
        let (uid, gid) = (geteuid(), getegid());
        let namespaced =
            CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC;
        if unshare(namespaced | CloneFlags::CLONE_NEWUSER).is_ok() {
            // Inside, the check is uid/gid 1000 (not root: it keeps no capability across exec).
            let _ = std::fs::write("/proc/self/setgroups", "deny");
            let mapped = std::fs::write("/proc/self/uid_map", format!("1000 {uid} 1"))
                .and_then(|_| std::fs::write("/proc/self/gid_map", format!("1000 {gid} 1")));
            if mapped.is_err() {
                fail("cannot map the sandbox's user");
            }
            have.extend([USER_NS, NET_NS, PID_NS, IPC_NS].map(String::from));
        } else if unshare(namespaced).is_ok() {
            // No user namespaces (some containers) but privileged: the rest still works.
            have.extend([NET_NS, PID_NS, IPC_NS].map(String::from));
        }
        if have.iter().any(|h| h == NET_NS) && loopback_up().is_err() {
            fail("cannot bring loopback up in the sandbox's network namespace");
        }
        // SAFETY: the launcher is single-threaded (a fresh exec of the grader that started no
        // thread), so the child may do anything after the fork.
        match unsafe { fork() } {
            Ok(ForkResult::Parent { child }) => {
                let _ = nix::unistd::close(RECORD_FD);
                relay(child)
            }
            Ok(ForkResult::Child) => init(plan, have),
            Err(e) => fail(&format!("fork: {e}")),
        }
    }

    /// Becomes `uid`:`gid` for good (no supplementary groups), owning `scratch`; fails the
    /// launch rather than run the check as root.
    fn drop_to(scratch: &Path, uid: u32, gid: u32) {
        use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
        if std::os::unix::fs::chown(scratch, Some(uid), Some(gid)).is_err() {
            fail("cannot give the check's user its scratch folder");
        }
        let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
        let dropped = setgroups(&[gid])
            .and_then(|_| setgid(gid))
            .and_then(|_| setuid(uid));
        if dropped.is_err() || geteuid() != uid || setuid(Uid::from_raw(0)).is_ok() {
            fail("cannot become the check's user");
        }
        // The change of user made this process non-dumpable, which makes its /proc files root's:
        // it could not write its own uid_map for the user namespace that comes next.
        if prctl::set_dumpable(true).is_err() {
            fail("cannot write the check's user namespace maps");
        }
    }

    /// PID 1 of the sandbox (when there is a PID namespace): starts the check, waits for it, and
    /// exits with its status; its exit ends every process the check left behind.
    fn init(plan: &Plan, have: Vec<String>) -> ! {
        let _ = prctl::set_pdeathsig(Signal::SIGKILL);
        // SAFETY: still single-threaded.
        match unsafe { fork() } {
            Ok(ForkResult::Parent { child }) => {
                let _ = nix::unistd::close(RECORD_FD);
                // Reap everything; the check's own status is what counts.
                loop {
                    match waitpid(None, None) {
                        Ok(WaitStatus::Exited(pid, code)) if pid == child => {
                            std::process::exit(code)
                        }
                        Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                            std::process::exit(128 + sig as i32)
                        }
                        Ok(_) => continue,
                        Err(nix::errno::Errno::EINTR) => continue,
                        Err(_) => std::process::exit(SETUP_FAILED),
                    }
                }
            }
            Ok(ForkResult::Child) => check(plan, have),
            Err(e) => fail(&format!("fork: {e}")),
        }
    }

    /// The check's process: every restriction, then exec.
    fn check(plan: &Plan, mut have: Vec<String>) -> ! {
        let _ = prctl::set_pdeathsig(Signal::SIGKILL);
        let mib = 1u64 << 20;
        let limits = [
            (Resource::RLIMIT_FSIZE, 64 * mib),
            (Resource::RLIMIT_NOFILE, 4096),
            (Resource::RLIMIT_NPROC, plan.max_tasks),
            (Resource::RLIMIT_CORE, 0),
        ];
        if set_rlimits(&limits) {
            have.push(RLIMITS.into());
        }
        if prctl::set_no_new_privs().is_ok() {
            have.push(NO_NEW_PRIVS.into());
        }
        if std::env::set_current_dir(&plan.scratch).is_err() {
            fail("cannot enter the check's scratch folder");
        }
        let probe = plan.program.first().is_some_and(|p| p == "--probe");
        let program = if probe {
            None
        } else {
            match plan.program.first() {
                Some(p) => Some(Path::new(p).to_path_buf()),
                None => fail("no program to run"),
            }
        };
        match landlock(plan, program.as_deref()) {
            Ok(true) => have.push(LANDLOCK.into()),
            Ok(false) => {}
            Err(e) => fail(&format!("Landlock: {e}")),
        }
        have.push(CLEAN_ENV.into());
        have.sort_by_key(|h| ALL.iter().position(|a| a == h));
        let line = serde_json::to_string(&SandboxLine { protections: have }).unwrap_or_default();
        if probe {
            println!("{line}");
            std::process::exit(0);
        }
        // The record channel: the first line is the sandbox's, before any code of the check runs.
        write_fd(RECORD_FD, format!("{line}\n").as_bytes());

        let scratch = plan.scratch.as_os_str().as_bytes();
        let env: Vec<CString> = [
            b"PATH=/usr/bin:/bin".to_vec(),
            b"RUST_BACKTRACE=0".to_vec(),
            [b"HOME=".as_slice(), scratch].concat(),
            [b"TMPDIR=".as_slice(), scratch].concat(),
        ]
        .into_iter()
        .filter_map(|v| CString::new(v).ok())
        .collect();
        let argv: Vec<CString> = plan
            .program
            .iter()
            .filter_map(|a: &OsString| CString::new(a.as_bytes()).ok())
            .collect();
        let Some(path) = argv.first() else {
            fail("no program to run")
        };
        let err = nix::unistd::execve(path, &argv, &env).unwrap_err();
        fail(&format!("cannot run {}: {err}", path.to_string_lossy()))
    }

    /// Read and execute the harness binary and the system's shared libraries; read the check's own
    /// `/proc/self/status` (thread counts) and a few devices; read-write its scratch folder only.
    /// `Ok(false)`: the kernel has no Landlock.
    fn landlock(plan: &Plan, program: Option<&Path>) -> Result<bool, String> {
        let mut rules: Vec<(PathBuf, Grant)> = Vec::new();
        if let Some(p) = program {
            rules.push((p.to_path_buf(), Grant::ReadExec));
        }
        for dir in ["/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/lib32"] {
            rules.push((dir.into(), Grant::ReadExec));
        }
        for file in [
            "/etc/ld.so.cache",
            "/dev/urandom",
            "/dev/random",
            "/dev/zero",
            "/proc/self/status",
        ] {
            rules.push((file.into(), Grant::Read));
        }
        rules.push(("/dev/null".into(), Grant::ReadWriteFile));
        rules.push((plan.scratch.clone(), Grant::All));
        restrict_fs(&rules)
    }

    /// Waits for init and exits as it did, re-raising a signal so the grader sees how the check
    /// ended (init can't be killed by its own check's signal, so it reports it as 128 + signal).
    fn relay(child: Pid) -> ! {
        loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) if code > 128 && code < 128 + 65 => {
                    if let Ok(sig) = Signal::try_from(code - 128) {
                        // SAFETY: restoring the default action of a signal, then raising it.
                        unsafe {
                            let _ =
                                nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl);
                        }
                        let _ = nix::sys::signal::raise(sig);
                    }
                    std::process::exit(code)
                }
                Ok(WaitStatus::Exited(_, code)) => std::process::exit(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => std::process::exit(128 + sig as i32),
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => std::process::exit(SETUP_FAILED),
            }
        }
    }

    /// `ip link set lo up`, by ioctl: no netlink crate for one flag.
    fn loopback_up() -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let socket = std::net::UdpSocket::bind("0.0.0.0:0").or_else(|_| {
            // An empty network namespace has no address to bind yet; any AF_INET socket will do.
            std::net::UdpSocket::bind("127.0.0.1:0")
        });
        let socket = match socket {
            Ok(s) => s,
            Err(_) => {
                return raw_loopback_up();
            }
        };
        set_lo_up(socket.as_raw_fd())
    }

    fn raw_loopback_up() -> std::io::Result<()> {
        // SAFETY: a plain socket(2); the fd is closed below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let result = set_lo_up(fd);
        // SAFETY: our own fd.
        unsafe { libc::close(fd) };
        result
    }

    fn set_lo_up(fd: i32) -> std::io::Result<()> {
        // SAFETY: ifreq is plain data; the ioctls read and write only it.
        unsafe {
            let mut req: libc::ifreq = std::mem::zeroed();
            for (i, b) in b"lo".iter().enumerate() {
                req.ifr_name[i] = *b as libc::c_char;
            }
            // The request's type is glibc's c_ulong, musl's c_int.
            if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    fn write_fd(fd: i32, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            // SAFETY: writing from a valid buffer to an fd we were handed.
            let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
            if n <= 0 {
                return;
            }
            bytes = &bytes[n as usize..];
        }
    }

    fn fail(what: &str) -> ! {
        eprintln!("grader sandbox: {what}");
        std::process::exit(SETUP_FAILED)
    }
}

/// Sets each limit, soft and hard (so the code under it can't raise it again): whether all held.
#[cfg(target_os = "linux")]
pub fn set_rlimits(limits: &[(nix::sys::resource::Resource, u64)]) -> bool {
    limits
        .iter()
        .all(|&(r, v)| nix::sys::resource::setrlimit(r, v, v).is_ok())
}

/// What a Landlock rule grants beneath a path (a folder and all below it, or one file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Read files, list folders.
    Read,
    /// Read, and execute programs and shared libraries.
    ReadExec,
    /// Read and write an existing file (a device such as `/dev/null`).
    ReadWriteFile,
    /// Anything: create, write, rename and remove files and folders.
    All,
}

/// Restricts this process (and everything it starts from now on) to `rules` with Landlock, and
/// scopes its signals and abstract sockets to itself: the one Landlock setup the checks' sandbox and
/// the builds' (`rustc_sandbox.rs`) share. A path this system lacks (no `/lib64`, say) is simply
/// not granted. `Ok(false)`: the kernel has no Landlock.
#[cfg(target_os = "linux")]
pub fn restrict_fs(rules: &[(PathBuf, Grant)]) -> Result<bool, String> {
    use landlock::{
        Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
        RulesetCreatedAttr, RulesetStatus, Scope, ABI,
    };
    let abi = ABI::V6;
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(|e| e.to_string())?
        .scope(Scope::Signal | Scope::AbstractUnixSocket)
        .map_err(|e| e.to_string())?
        .create()
        .map_err(|e| e.to_string())?;
    for (path, grant) in rules {
        let Ok(fd) = PathFd::new(path) else { continue };
        let access = match grant {
            Grant::Read => read,
            Grant::ReadExec => read | AccessFs::Execute,
            Grant::ReadWriteFile => AccessFs::ReadFile | AccessFs::WriteFile,
            Grant::All => AccessFs::from_all(abi),
        };
        // A file takes only the rights that apply to files.
        let access = if path.is_dir() {
            access
        } else {
            access & AccessFs::from_file(abi)
        };
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, access))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let status = ruleset.restrict_self().map_err(|e| e.to_string())?;
    Ok(status.ruleset != RulesetStatus::NotEnforced)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::Plan;

    #[test]
    fn the_launcher_reads_back_the_plan_it_is_given() {
        let plan = Plan {
            scratch: "/tmp/scratch".into(),
            max_tasks: 128,
            run_as: Some((998, 997)),
            program: vec!["/h".into(), "run".into(), "c".into()],
        };
        let args = plan.to_args();
        let back = Plan::from_args(&args[1..]).unwrap();
        assert_eq!(back.scratch, plan.scratch);
        assert_eq!(back.max_tasks, 128);
        assert_eq!(back.run_as, Some((998, 997)));
        assert_eq!(back.program, plan.program);
        let plain = Plan {
            run_as: None,
            ..plan
        };
        assert_eq!(Plan::from_args(&plain.to_args()[1..]).unwrap().run_as, None);
    }
}
