//! Events and their attendees: the enumerations. The lifecycle itself is enforced by the database
//! trigger `events_check_transition` (docs/database.md, "Events").

pub const STATUSES: [&str; 4] = ["draft", "active", "completed", "cancelled"];
/// What a new event may start as; `completed` comes only from closing, `cancelled` from an update.
pub const INITIAL_STATUSES: [&str; 2] = ["draft", "active"];
pub const ATTENDEE_STATUSES: [&str; 5] = ["pending", "approved", "denied", "checked_in", "expired"];

pub fn is_status(s: &str) -> bool {
    STATUSES.contains(&s)
}

pub fn is_initial_status(s: &str) -> bool {
    INITIAL_STATUSES.contains(&s)
}

pub fn is_attendee_status(s: &str) -> bool {
    ATTENDEE_STATUSES.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumerations() {
        assert!(is_status("cancelled") && !is_status("closed"));
        assert!(is_initial_status("active") && !is_initial_status("completed") && !is_initial_status("cancelled"));
        assert!(is_attendee_status("checked_in") && !is_attendee_status("active") && !is_attendee_status("checked_out"));
    }
}
