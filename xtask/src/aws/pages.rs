//! The page tokens of one CodeArtifact listing (`ListPackageVersions`,
//! `ListPackageVersionAssets`): a server answer decides whether a listing goes on,
//! so it is bounded. At most `XTASK_MAX_PAGES` pages, and a token handed out twice
//! is an error at once (the listing would never end).

use anyhow::{Result, bail};

/// Where a listing is: the token to send with the next request and those seen.
pub struct Pages {
    /// What is listed, for the errors ("ListPackageVersions of yamause").
    what: String,
    max: usize,
    seen: Vec<String>,
}

impl Pages {
    pub fn new(what: String) -> Pages {
        Pages { what, max: crate::limits::get().max_pages, seen: Vec::new() }
    }

    #[cfg(test)]
    fn with_max(what: &str, max: usize) -> Pages {
        Pages { what: what.to_owned(), max, seen: Vec::new() }
    }

    /// The token for the next request (`None` for the first page).
    pub fn token(&self) -> Option<String> {
        self.seen.last().cloned()
    }

    /// After a page whose answer carried `next`: `true` when another page is to be
    /// asked for, `false` when the listing is complete (no token, or an empty one).
    pub fn advance(&mut self, next: Option<&str>) -> Result<bool> {
        let Some(token) = next.filter(|it| !it.is_empty()) else { return Ok(false) };
        if self.seen.iter().any(|it| it == token) {
            bail!(
                "{} handed out the same page token twice: the listing would never end. Re-run; if it happens again, \
                 the repository's listing is broken (AWS support)",
                self.what
            );
        }
        // The first page had no token: `seen.len() + 1` pages are read now.
        if self.seen.len() + 1 >= self.max {
            bail!(
                "{} did not end after {} pages: raise XTASK_MAX_PAGES if it really has that many",
                self.what,
                self.max
            );
        }
        self.seen.push(token.to_owned());
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_ends_without_a_token_or_with_an_empty_one() {
        let mut pages = Pages::with_max("ListPackageVersions of x", 5);
        assert_eq!(pages.token(), None);
        assert!(pages.advance(Some("a")).unwrap());
        assert_eq!(pages.token().as_deref(), Some("a"));
        assert!(pages.advance(Some("b")).unwrap());
        assert_eq!(pages.token().as_deref(), Some("b"));
        assert!(!pages.advance(None).unwrap());
        assert!(!Pages::with_max("x", 5).advance(Some("")).unwrap());
    }

    #[test]
    fn a_token_handed_out_twice_stops_the_listing() {
        let mut pages = Pages::with_max("ListPackageVersionAssets of x 1.0", 100);
        assert!(pages.advance(Some("a")).unwrap());
        assert!(pages.advance(Some("b")).unwrap());
        let err = pages.advance(Some("a")).unwrap_err().to_string();
        assert!(err.starts_with("ListPackageVersionAssets of x 1.0 handed out the same page token twice"), "{err}");
    }

    #[test]
    fn at_most_max_pages_are_read() {
        let mut pages = Pages::with_max("ListPackageVersions of x", 3);
        // Pages 1 and 2 hand out tokens for pages 2 and 3; page 3's token would
        // ask for a fourth.
        assert!(pages.advance(Some("p2")).unwrap());
        assert!(pages.advance(Some("p3")).unwrap());
        let err = pages.advance(Some("p4")).unwrap_err().to_string();
        assert!(err.contains("did not end after 3 pages: raise XTASK_MAX_PAGES"), "{err}");
        // A last page without a token is fine at the bound.
        let mut pages = Pages::with_max("x", 3);
        assert!(pages.advance(Some("p2")).unwrap() && pages.advance(Some("p3")).unwrap());
        assert!(!pages.advance(None).unwrap());
    }
}
