//! The table of active rules: which rule a request meets, and how each use counts
//! down `times` (and an `Upload` rule's `pass`), so that every fault runs out
//! after a bounded number of requests or stays until reset.

use std::time::Duration;

use super::{Fault, Rule};
use crate::operation::Operation;

/// The active rules, in the order they were added.
#[derive(Default)]
pub(crate) struct Faults {
    rules: Vec<ActiveRule>,
}

struct ActiveRule {
    rule: Rule,
    /// The rule's operation filter as the typed value requests are matched on.
    operation: Option<Operation>,
    /// Uploads still to let through before an `Upload` rule starts failing.
    pass_left: u32,
}

/// The message of a throttled answer, in every protocol's shape.
pub(crate) const THROTTLED: &str = "Rate exceeded";
/// The message of an injected internal error, in every protocol's shape.
pub(crate) const INJECTED_INTERNAL_ERROR: &str = "An internal error occurred (injected by castack)";

/// A transient fault that hit a CodeArtifact or PyPI-endpoint request; the handler
/// words the answer in its own protocol's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transient {
    /// 429 with `Retry-After`.
    Throttle { retry_after_seconds: u32 },
    /// 500.
    InternalError,
}

impl Transient {
    pub fn status(self) -> u16 {
        match self {
            Transient::Throttle { .. } => 429,
            Transient::InternalError => 500,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Transient::Throttle { .. } => THROTTLED,
            Transient::InternalError => INJECTED_INTERNAL_ERROR,
        }
    }

    pub fn retry_after_seconds(self) -> Option<u32> {
        match self {
            Transient::Throttle { retry_after_seconds } => Some(retry_after_seconds),
            Transient::InternalError => None,
        }
    }
}

impl Faults {
    pub fn add(&mut self, rule: Rule) {
        let pass_left = match rule.fault {
            Fault::Upload { pass, .. } => pass,
            _ => 0,
        };
        let operation = rule.operation.as_deref().map(Operation::parse);
        self.rules.push(ActiveRule { rule, operation, pass_left });
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn list(&self) -> Vec<Rule> {
        self.rules.iter().map(|it| it.rule.clone()).collect()
    }

    /// Finds the first rule that `select` accepts for `operation` and uses one of
    /// its counts.
    pub fn take<T>(&mut self, operation: &Operation, mut select: impl FnMut(&Fault) -> Option<T>) -> Option<T> {
        for i in 0..self.rules.len() {
            let active = &mut self.rules[i];
            if !active.applies_to(operation) {
                continue;
            }
            let Some(found) = select(&active.rule.fault) else { continue };
            if matches!(active.rule.fault, Fault::Upload { .. }) && active.pass_left > 0 {
                active.pass_left -= 1;
                return None;
            }
            match &mut active.rule.times {
                None => {}
                Some(0) => continue,
                Some(n) => {
                    *n -= 1;
                    if *n == 0 {
                        self.rules.remove(i);
                    }
                }
            }
            return Some(found);
        }
        None
    }

    /// The bound of a `Stall` rule for `operation`, used up by this call.
    pub fn stall(&mut self, operation: &Operation) -> Option<Duration> {
        self.take(operation, |fault| match fault {
            Fault::Stall { max_ms } => Some(Duration::from_millis(*max_ms)),
            _ => None,
        })
    }

    /// The bound of a `Trickle` rule for `operation`, used up by this call.
    pub fn trickle(&mut self, operation: &Operation) -> Option<Duration> {
        self.take(operation, |fault| match fault {
            Fault::Trickle { max_ms } => Some(Duration::from_millis(*max_ms)),
            _ => None,
        })
    }

    /// The delay of a `Slow` rule for `operation`, used up by this call. The caller
    /// sleeps without holding the lock, so other requests go on meanwhile.
    pub fn delay(&mut self, operation: &Operation) -> Option<Duration> {
        self.take(operation, |fault| match fault {
            Fault::Slow { delay_ms } => Some(Duration::from_millis(*delay_ms)),
            _ => None,
        })
    }

    /// A throttle or, failing that, an internal error for `operation`: the faults
    /// that hit before validation, as a busy service's front door would.
    pub fn transient(&mut self, operation: &Operation) -> Option<Transient> {
        self.take(operation, |fault| match fault {
            Fault::Throttle { retry_after_seconds } => {
                Some(Transient::Throttle { retry_after_seconds: *retry_after_seconds })
            }
            _ => None,
        })
        .or_else(|| self.take(operation, |f| (*f == Fault::InternalError).then_some(Transient::InternalError)))
    }
}

impl ActiveRule {
    /// Rules without an operation filter hit every CodeArtifact operation; of them,
    /// only those that make sense there also hit the PyPI endpoint or STS (each
    /// caller's `select` picks only its own kinds).
    fn applies_to(&self, operation: &Operation) -> bool {
        match &self.operation {
            Some(it) => it == operation,
            None => {
                operation.is_codeartifact()
                    || matches!(
                        self.rule.fault,
                        Fault::Deny { .. }
                            | Fault::Upload { .. }
                            | Fault::Lag { .. }
                            | Fault::DomainNotFound
                            | Fault::RepositoryNotFound
                            | Fault::Sts { .. }
                    )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::{CodeArtifactOp, PypiOp};

    #[test]
    fn sts_faults_hit_sts_actions_only() {
        let mut faults = Faults::default();
        faults.add(Fault::Sts { code: "AccessDenied".into(), message: "m".into(), status: 403 }.times(1));
        let sts = |f: &mut Faults, action: &str| {
            f.take(&Operation::Sts(Some(action.to_owned())), |it| matches!(it, Fault::Sts { .. }).then_some(()))
        };
        let describe_domain = Operation::CodeArtifact(CodeArtifactOp::DescribeDomain);
        // A CodeArtifact caller never selects it; an STS action without a filter meets it.
        assert!(faults.take(&describe_domain, |it| (*it == Fault::InternalError).then_some(())).is_none());
        assert!(sts(&mut faults, "GetCallerIdentity").is_some());
        assert!(faults.list().is_empty());
        faults.add(
            Fault::Sts { code: "AccessDenied".into(), message: "m".into(), status: 403 }.always().only("AssumeRole"),
        );
        assert!(sts(&mut faults, "GetCallerIdentity").is_none());
        assert!(sts(&mut faults, "AssumeRole").is_some());
        assert!(sts(&mut faults, "AssumeRole").is_some());
        // Transient kinds reach STS only through an operation filter.
        faults.clear();
        faults.add(Fault::InternalError.times(1));
        assert!(
            faults
                .take(&Operation::Sts(Some("GetCallerIdentity".into())), |it| (*it == Fault::InternalError)
                    .then_some(()))
                .is_none()
        );
    }

    #[test]
    fn operation_filters_match_typed_operations() {
        let mut faults = Faults::default();
        faults.add(Fault::InternalError.times(1).only("pypi-download"));
        faults.add(Fault::Throttle { retry_after_seconds: 2 }.times(1).only("GetAuthorizationToken"));
        let token = Operation::CodeArtifact(CodeArtifactOp::GetAuthorizationToken);
        // An STS call that names a CodeArtifact operation as its action is no
        // CodeArtifact operation.
        assert_eq!(faults.transient(&Operation::Sts(Some("GetAuthorizationToken".into()))), None);
        assert_eq!(faults.transient(&Operation::Pypi(PypiOp::Index)), None);
        assert_eq!(faults.transient(&token), Some(Transient::Throttle { retry_after_seconds: 2 }));
        assert_eq!(faults.transient(&Operation::Pypi(PypiOp::Download)), Some(Transient::InternalError));
        assert!(faults.list().is_empty());
    }

    #[test]
    fn counts_run_out() {
        let mut faults = Faults::default();
        faults.add(Fault::InternalError.times(2));
        let hit = |f: &mut Faults| f.transient(&Operation::CodeArtifact(CodeArtifactOp::DescribeDomain));
        assert!(hit(&mut faults).is_some());
        assert!(hit(&mut faults).is_some());
        assert!(hit(&mut faults).is_none());
        assert!(faults.list().is_empty());
    }
}
