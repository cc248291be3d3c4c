//! Every deadline of a run, in one place: what it bounds, its default, and the
//! environment variable that overrides it (seconds; fractions allowed, so that tests
//! can make a stall end quickly). A network call or a child that stalls ends within
//! its bound with a message that names the step, the host and the fix.
//!
//! | Variable | Default | Bounds |
//! |---|---|---|
//! | `XTASK_CONNECT_TIMEOUT` | 5 s | opening a connection (AWS, OIDC, twine) |
//! | `XTASK_AWS_ATTEMPT_TIMEOUT` | 30 s | one attempt of an AWS call, answer included |
//! | `XTASK_AWS_TIMEOUT` | 90 s | one AWS call with all its retries |
//! | `XTASK_UPLOAD_TIMEOUT` | 120 s | silence on an upload connection (twine) |
//! | `XTASK_UPLOAD_MIN_RATE` | 32 KiB/s | a whole file's upload: twice `XTASK_UPLOAD_TIMEOUT` + its size at this rate |
//! | `XTASK_STALL_TIMEOUT` | 300 s | a child that prints nothing and moves no bytes |
//! | `XTASK_CHILD_TIMEOUT` | 3600 s | the whole run of one child program |
//! | `XTASK_MAX_PAGES` | 100 | pages of one listing (a repeated token is an error) |
//! | `XTASK_LOCK_TIMEOUT` | 300 s | waiting for another release of the same checkout |

use std::{sync::OnceLock, time::Duration};

use anyhow::{Result, bail};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub connect: Duration,
    pub aws_attempt: Duration,
    pub aws_operation: Duration,
    pub upload: Duration,
    /// Bytes per second an upload must at least average (`XTASK_UPLOAD_MIN_RATE`, in KiB/s).
    pub upload_min_rate: u64,
    pub stall: Duration,
    pub child: Duration,
    pub max_pages: usize,
    pub lock_wait: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connect: Duration::from_secs(5),
            aws_attempt: Duration::from_secs(30),
            aws_operation: Duration::from_secs(90),
            upload: Duration::from_secs(120),
            upload_min_rate: 32 * 1024,
            stall: Duration::from_secs(300),
            child: Duration::from_secs(3600),
            max_pages: 100,
            lock_wait: Duration::from_secs(300),
        }
    }
}

static LIMITS: OnceLock<Limits> = OnceLock::new();

/// Reads the overrides once; a value that is not a positive number is an error.
pub fn init() -> Result<()> {
    let limits = from(|name| std::env::var(name).ok())?;
    let _ = LIMITS.set(limits);
    Ok(())
}

/// The limits of this run (the defaults until `init` ran).
pub fn get() -> Limits {
    *LIMITS.get_or_init(Limits::default)
}

fn from(var: impl Fn(&str) -> Option<String>) -> Result<Limits> {
    let default = Limits::default();
    let seconds = |name: &str, default: Duration| -> Result<Duration> {
        let Some(text) = var(name).filter(|it| !it.trim().is_empty()) else { return Ok(default) };
        match text.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
            _ => bail!("{name}={text:?} is not a number of seconds between 0 and 86400: fix it or unset it"),
        }
    };
    let max_pages = match var("XTASK_MAX_PAGES").filter(|it| !it.trim().is_empty()) {
        None => default.max_pages,
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => bail!("XTASK_MAX_PAGES={text:?} is not a positive number: fix it or unset it"),
        },
    };
    let upload_min_rate = match var("XTASK_UPLOAD_MIN_RATE").filter(|it| !it.trim().is_empty()) {
        None => default.upload_min_rate,
        Some(text) => match text.trim().parse::<f64>() {
            Ok(kib) if (0.001..=10_485_760.0).contains(&kib) => (kib * 1024.0).round() as u64,
            _ => bail!(
                "XTASK_UPLOAD_MIN_RATE={text:?} is not a number of KiB per second between 0.001 and 10485760: fix \
                 it or unset it"
            ),
        },
    };
    Ok(Limits {
        connect: seconds("XTASK_CONNECT_TIMEOUT", default.connect)?,
        aws_attempt: seconds("XTASK_AWS_ATTEMPT_TIMEOUT", default.aws_attempt)?,
        aws_operation: seconds("XTASK_AWS_TIMEOUT", default.aws_operation)?,
        upload: seconds("XTASK_UPLOAD_TIMEOUT", default.upload)?,
        upload_min_rate,
        stall: seconds("XTASK_STALL_TIMEOUT", default.stall)?,
        child: seconds("XTASK_CHILD_TIMEOUT", default.child)?,
        max_pages,
        lock_wait: seconds("XTASK_LOCK_TIMEOUT", default.lock_wait)?,
    })
}

impl Limits {
    /// How long the upload of a file of `size` bytes may take in all: twice the
    /// silence bound (so that a server that answers nothing is always told by its
    /// silence, connecting and sending included), plus the file at the minimum rate
    /// (twine's connection retries included).
    pub fn upload_total(&self, size: u64) -> Duration {
        self.upload_floor() + Duration::from_secs_f64(size as f64 / self.upload_min_rate as f64)
    }

    /// The part of every upload's deadline that does not grow with its size: twice
    /// `XTASK_UPLOAD_TIMEOUT` (see `upload_total`).
    pub fn upload_floor(&self) -> Duration {
        self.upload * 2
    }
}

/// `1.5 s`, for messages.
pub fn shown(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.0} s") } else { format!("{s:.1} s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_overrides_and_refuses_nonsense() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(from(env(&[])).unwrap(), Limits::default());
        let limits = from(env(&[("XTASK_AWS_TIMEOUT", "2.5"), ("XTASK_MAX_PAGES", "3")])).unwrap();
        assert_eq!((limits.aws_operation, limits.max_pages), (Duration::from_millis(2500), 3));
        for bad in [("XTASK_STALL_TIMEOUT", "0"), ("XTASK_UPLOAD_TIMEOUT", "-1"), ("XTASK_CONNECT_TIMEOUT", "soon")] {
            let err = from(move |name: &str| (name == bad.0).then(|| bad.1.to_owned())).unwrap_err();
            assert!(err.to_string().starts_with(bad.0), "{err}");
        }
        let limits = from(env(&[("XTASK_UPLOAD_TIMEOUT", "4"), ("XTASK_UPLOAD_MIN_RATE", "0.5")])).unwrap();
        assert_eq!(limits.upload_total(2048), Duration::from_secs(12));
        assert_eq!(Limits::default().upload_total(32 * 1024 * 60), Duration::from_secs(300));
        assert!(from(env(&[("XTASK_UPLOAD_MIN_RATE", "0")])).is_err());
        assert_eq!(shown(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(shown(Duration::from_secs(90)), "90 s");
    }
}
