//! Badges: serial normalisation and the enumerations.

/// Serials are trimmed and upper-cased on write and on lookup.
pub fn normalize_serial(raw: &str) -> String {
    raw.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0c' | '\x0b')).to_uppercase()
}

pub const STATUSES: [&str; 4] = ["active", "inactive", "lost", "damaged"];
pub const ASSIGNMENT_TYPES: [&str; 4] = ["member", "visitor", "event", "unassigned"];

pub fn is_status(s: &str) -> bool {
    STATUSES.contains(&s)
}

pub fn is_assignment_type(s: &str) -> bool {
    ASSIGNMENT_TYPES.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_trimmed_and_upper_cased() {
        assert_eq!(normalize_serial(" ab12\t\n"), "AB12");
    }

    #[test]
    fn enumerations() {
        assert!(is_status("lost") && !is_status("disabled"));
        assert!(is_assignment_type("event") && !is_assignment_type("Member"));
    }
}
