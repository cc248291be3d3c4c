//! The work meter of one analysis: every search (`lang`) and every wildcard match
//! of a simulated request (`glob`, through `eval`) spends from it, so that no
//! document, however its wildcards are arranged, costs more than a fixed amount of
//! work. A question it cannot finish is answered cautiously by its caller, and the
//! meter remembers that it ran out: the trust analysis then fails closed
//! (`trust.unproven`), it never passes on a search that stopped early.
//!
//! The amounts are steps of the searches (a state expanded for every character of
//! the alphabet, a pair of positions of two globs visited), so the meter's total is
//! a bound on the time, measured by `cargo xtask bench policy`.

use std::cell::Cell;

/// How much work one trust analysis may do in its proof (`search`) and in the
/// requests it simulates (`evaluation`): many times what any published trust
/// policy needs, and little enough that a worst-case document within IAM's size
/// limits is analysed in well under half a second by the unoptimised build that
/// `cargo xtask` runs (`cargo xtask bench policy` prints the figures).
pub(crate) const SEARCH_WORK: u64 = 900_000;
pub(crate) const EVALUATION_WORK: u64 = 400_000;

/// The meters of one analysis: one for the proof's searches, one for the
/// simulated requests, so that a proof that ran out still leaves the fixed
/// counter-examples their say.
#[derive(Debug)]
pub(crate) struct Budgets {
    pub(crate) search: Budget,
    pub(crate) evaluation: Budget,
}

impl Budgets {
    pub(crate) fn new(search: u64, evaluation: u64) -> Budgets {
        Budgets { search: Budget::new(search), evaluation: Budget::new(evaluation) }
    }

    pub(crate) fn ran_out(&self) -> bool {
        self.search.ran_out() || self.evaluation.ran_out()
    }
}

impl Default for Budgets {
    fn default() -> Budgets {
        Budgets::new(SEARCH_WORK, EVALUATION_WORK)
    }
}

#[derive(Debug)]
pub(crate) struct Budget {
    left: Cell<u64>,
    ran_out: Cell<bool>,
}

impl Budget {
    pub(crate) fn new(work: u64) -> Budget {
        Budget { left: Cell::new(work), ran_out: Cell::new(false) }
    }

    /// Uses `work`; false (and from then on `ran_out`) when not that much is left.
    pub(crate) fn spend(&self, work: u64) -> bool {
        let left = self.left.get();
        if left < work {
            self.left.set(0);
            self.ran_out.set(true);
            return false;
        }
        self.left.set(left - work);
        true
    }

    /// True once some question stopped because the meter ran out.
    pub(crate) fn ran_out(&self) -> bool {
        self.ran_out.get()
    }

    /// The work left.
    #[cfg(test)]
    pub(crate) fn left(&self) -> u64 {
        self.left.get()
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(SEARCH_WORK)
    }
}
