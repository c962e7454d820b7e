//! Members: input rules shared by create and update.

pub const STATUSES: [&str; 6] = ["active", "inactive", "leave", "transferred", "retired", "pending_review"];

pub fn is_status(s: &str) -> bool {
    STATUSES.contains(&s)
}

/// Service numbers: 6–20 characters, no surrounding whitespace, no control characters.
pub fn check_service_number(s: &str) -> Result<(), &'static str> {
    let n = s.chars().count();
    if !(6..=20).contains(&n) {
        Err("must be 6-20 characters")
    } else if s.trim() != s || s.chars().any(char::is_control) {
        Err("must not contain surrounding whitespace or control characters")
    } else {
        Ok(())
    }
}

/// First and last names: 1–100 characters, not blank.
pub fn check_name(s: &str) -> Result<(), &'static str> {
    let n = s.chars().count();
    if !(1..=100).contains(&n) {
        Err("must be 1-100 characters")
    } else if s.trim().is_empty() {
        Err("must not be blank")
    } else {
        Ok(())
    }
}

pub fn check_middle_initial(s: &str) -> Result<(), &'static str> {
    if s.chars().count() > 5 { Err("must be at most 5 characters") } else { Ok(()) }
}

pub fn check_phone(s: &str) -> Result<(), &'static str> {
    if s.chars().count() > 50 { Err("must be at most 50 characters") } else { Ok(()) }
}

/// A practical e-mail check matching the database constraint (one `@`, non-empty local part and a
/// dotted domain, no whitespace), at most 255 characters.
pub fn check_email(s: &str) -> Result<(), &'static str> {
    let valid = s.chars().count() <= 255
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.split('.').count() >= 2
                    && domain.split('.').all(|label| !label.is_empty())
            }
            None => false,
        };
    if valid { Ok(()) } else { Err("must be a valid e-mail address") }
}

/// Ranks are checked against the rank table by the database; syntactically 1–10 visible characters.
pub fn check_rank(s: &str) -> Result<(), &'static str> {
    let n = s.chars().count();
    if (1..=10).contains(&n) && !s.chars().any(|c| c.is_whitespace() || c.is_control()) { Ok(()) } else { Err("must be a rank code") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn service_numbers() {
        assert!(check_service_number("A12345").is_ok());
        assert!(check_service_number("A1234").is_err());
        assert!(check_service_number(&"9".repeat(21)).is_err());
        assert!(check_service_number(" A12345").is_err());
    }

    #[test]
    fn emails() {
        assert!(check_email("a.b@navy.ca").is_ok());
        for bad in ["", "a", "a@", "@b.c", "a@b", "a b@c.d", "a@b@c.d", "a@b..c"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_small_fields() {
        assert!(check_name("Jo").is_ok());
        assert!(check_name("  ").is_err());
        assert!(check_name(&"x".repeat(101)).is_err());
        assert!(check_middle_initial("ABCDE").is_ok() && check_middle_initial("ABCDEF").is_err());
        assert!(check_rank("Lt(N)").is_ok() && check_rank("").is_err() && check_rank("P O").is_err());
    }

    proptest! {
        #[test]
        fn service_number_accepts_exactly_the_specified_lengths(s in "[A-Za-z0-9]{0,30}") {
            prop_assert_eq!(check_service_number(&s).is_ok(), (6..=20).contains(&s.len()));
        }

        #[test]
        fn names_accept_exactly_1_to_100_non_blank_chars(s in "\\PC{0,120}") {
            let n = s.chars().count();
            prop_assert_eq!(check_name(&s).is_ok(), (1..=100).contains(&n) && !s.trim().is_empty());
        }

        #[test]
        fn validators_never_panic_on_arbitrary_text(s in "\\PC*|.*") {
            let _ = (check_service_number(&s), check_name(&s), check_middle_initial(&s), check_phone(&s), check_email(&s), check_rank(&s));
        }

        #[test]
        fn generated_addresses_are_valid(local in "[a-z0-9._-]{1,20}", host in "[a-z0-9-]{1,20}", tld in "[a-z]{2,6}") {
            let email = format!("{local}@{host}.{tld}");
            prop_assert!(check_email(&email).is_ok());
        }

        #[test]
        fn whitespace_anywhere_invalidates_an_email(a in "[a-z]{1,5}", b in "[a-z]{1,5}") {
            let email = format!("{a} x@{b}.ca");
            prop_assert!(check_email(&email).is_err());
        }
    }
}
