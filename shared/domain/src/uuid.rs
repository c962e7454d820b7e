//! The API's notion of a well-formed UUID: canonical 8-4-4-4-12
//! hexadecimal, case-insensitive, version/variant digits not checked.

/// Returns the lower-cased canonical form, or `None` if `s` is not well-formed.
pub fn parse_uuid(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    for (i, b) in bytes.iter().enumerate() {
        let dash = matches!(i, 8 | 13 | 18 | 23);
        if dash != (*b == b'-') || (!dash && !b.is_ascii_hexdigit()) {
            return None;
        }
    }
    Some(s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::parse_uuid;

    #[test]
    fn accepts_any_hex_layout_including_nil() {
        assert_eq!(
            parse_uuid("00000000-0000-0000-0000-000000000000").as_deref(),
            Some("00000000-0000-0000-0000-000000000000")
        );
        assert_eq!(
            parse_uuid("ABCDEF01-2345-6789-ABCD-EF0123456789").as_deref(),
            Some("abcdef01-2345-6789-abcd-ef0123456789")
        );
    }

    #[test]
    fn rejects_other_layouts() {
        for bad in ["", "not-a-uuid", "abcdef0123456789abcdef0123456789", "abcdef01-2345-6789-abcd-ef012345678g",
            "{abcdef01-2345-6789-abcd-ef0123456789}", "abcdef01-2345-6789-abcd-ef01234567890"] {
            assert_eq!(parse_uuid(bad), None, "{bad}");
        }
    }
}
