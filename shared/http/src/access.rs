//! Who may call a route (api.md §0.3). Every route declares its [`Access`]
//! next to its path in the component's router; this is the one place the
//! rule lives.

use sentinel_domain::Role;

/// One kind of caller a route admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// A signed-in user whose role is at least this one.
    User(Role),
    /// A kiosk API key.
    Kiosk,
    /// A display API key (read-only dashboards).
    Display,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Restricted(&'static [Allow]),
}

impl Access {
    pub const QM: Access = Access::Restricted(&[Allow::User(Role::Quartermaster)]);
    pub const DW: Access = Access::Restricted(&[Allow::User(Role::DutyWatch)]);
    pub const EX: Access = Access::Restricted(&[Allow::User(Role::Executive)]);
    pub const ADM: Access = Access::Restricted(&[Allow::User(Role::Admin)]);
    pub const DEV: Access = Access::Restricted(&[Allow::User(Role::Developer)]);
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    User { id: String, role: Role },
    ApiKey { id: String, kind: KeyKind, kiosk_id: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Kiosk,
    Display,
    Integration,
}

impl Access {
    /// Whether `principal` satisfies this rule (401/403 mapping is the caller's).
    pub fn admits(self, principal: &Principal) -> bool {
        match self {
            Access::Public => true,
            Access::Restricted(allowed) => allowed.iter().any(|a| match (a, principal) {
                (Allow::User(min), Principal::User { role, .. }) => role.at_least(*min),
                (Allow::Kiosk, Principal::ApiKey { kind: KeyKind::Kiosk, .. }) => true,
                (Allow::Display, Principal::ApiKey { kind: KeyKind::Display, .. }) => true,
                _ => false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> Principal {
        Principal::User { id: "u".into(), role }
    }

    #[test]
    fn role_floor_admits_higher_roles_only() {
        assert!(Access::DW.admits(&user(Role::Developer)));
        assert!(!Access::DW.admits(&user(Role::Quartermaster)));
        assert!(!Access::DW.admits(&Principal::Anonymous));
        assert!(Access::Public.admits(&Principal::Anonymous));
    }

    #[test]
    fn keys_are_admitted_only_where_listed() {
        let kiosk = Principal::ApiKey { id: "k".into(), kind: KeyKind::Kiosk, kiosk_id: Some("k1".into()) };
        let qm_kiosk = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk]);
        assert!(qm_kiosk.admits(&kiosk));
        assert!(!Access::ADM.admits(&kiosk));
        let display = Principal::ApiKey { id: "d".into(), kind: KeyKind::Display, kiosk_id: None };
        assert!(!qm_kiosk.admits(&display));
    }
}
