//! Divisions: the rules that shape stored values.

/// Division codes are stored trimmed and upper-cased, which makes their
/// uniqueness case-insensitive.
pub fn normalize_code(raw: &str) -> String {
    raw.trim().to_uppercase()
}

/// Colours are `#RRGGBB`.
pub fn is_hex_color(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// The message `DELETE /api/divisions/:id` answers for a division that still has members.
pub fn delete_blocked_message(member_count: i64) -> String {
    format!("Cannot delete division with {member_count} assigned members")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_trimmed_and_upper_cased() {
        assert_eq!(normalize_code(" ops "), "OPS");
    }

    #[test]
    fn colors_must_be_hex_triplets() {
        assert!(is_hex_color("#00ff7A"));
        for bad in ["#00ff7", "00ff7AA", "#00ff7G", "#00ff7A0", "#ÉÉÉ"] {
            assert!(!is_hex_color(bad), "{bad}");
        }
    }

    #[test]
    fn delete_message_names_the_count() {
        assert_eq!(delete_blocked_message(3), "Cannot delete division with 3 assigned members");
    }
}
