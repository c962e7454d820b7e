//! User roles and their linear hierarchy.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Quartermaster = 1,
    DutyWatch = 2,
    Executive = 3,
    Admin = 4,
    Developer = 5,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Quartermaster, Role::DutyWatch, Role::Executive, Role::Admin, Role::Developer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Quartermaster => "quartermaster",
            Role::DutyWatch => "duty_watch",
            Role::Executive => "executive",
            Role::Admin => "admin",
            Role::Developer => "developer",
        }
    }

    /// Unknown or missing roles are treated as the lowest role.
    pub fn parse_lenient(s: Option<&str>) -> Role {
        Role::ALL.into_iter().find(|r| Some(r.as_str()) == s).unwrap_or(Role::Quartermaster)
    }

    /// The hierarchy is linear: a role can do everything the roles below it can.
    pub fn at_least(self, min: Role) -> bool {
        self >= min
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn hierarchy_is_linear() {
        assert!(Role::Developer.at_least(Role::Admin));
        assert!(Role::Executive.at_least(Role::DutyWatch));
        assert!(!Role::DutyWatch.at_least(Role::Executive));
        assert!(Role::Quartermaster.at_least(Role::Quartermaster));
    }

    #[test]
    fn unknown_role_is_quartermaster() {
        assert_eq!(Role::parse_lenient(None), Role::Quartermaster);
        assert_eq!(Role::parse_lenient(Some("captain")), Role::Quartermaster);
        assert_eq!(Role::parse_lenient(Some("duty_watch")), Role::DutyWatch);
    }
}
