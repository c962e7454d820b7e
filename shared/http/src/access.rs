//! Who may call a route. Every route declares its [`Access`]
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
    /// No principal: the caller must present `Authorization: Bearer <v>`
    /// where `v` is the value of the named variable (e.g. /metrics).
    Token(&'static str),
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
    User(UserPrincipal),
    ApiKey(KeyPrincipal),
}

/// A signed-in user, as of this request (role read from the database, so
/// role changes apply at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPrincipal {
    pub id: String,
    pub role: Role,
    pub session_id: String,
    pub session_kind: String,
    pub member_id: Option<String>,
    /// This request slid the password session's expiry forward; a browser's
    /// session cookie is then re-sent with a fresh lifetime.
    pub session_renewed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrincipal {
    pub id: String,
    pub kind: KeyKind,
    /// Set for kiosk keys: records they create take their kiosk id from here.
    pub kiosk_id: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Kiosk,
    Display,
    Integration,
}

impl KeyKind {
    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "kiosk" => Some(KeyKind::Kiosk),
            "display" => Some(KeyKind::Display),
            "integration" => Some(KeyKind::Integration),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Kiosk => "kiosk",
            KeyKind::Display => "display",
            KeyKind::Integration => "integration",
        }
    }
}

impl Principal {
    /// The acting user's id, for `createdByAdmin`, audit rows and the like.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Principal::User(u) => Some(&u.id),
            _ => None,
        }
    }

    /// The kiosk id of a kiosk key.
    pub fn kiosk_id(&self) -> Option<&str> {
        match self {
            Principal::ApiKey(k) if k.kind == KeyKind::Kiosk => k.kiosk_id.as_deref(),
            _ => None,
        }
    }

    pub fn is_kiosk(&self) -> bool {
        matches!(self, Principal::ApiKey(k) if k.kind == KeyKind::Kiosk)
    }

    /// How the caller is named in messages ("admin role", "kiosk key").
    pub fn describe(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".into(),
            Principal::User(u) => format!("{} role", u.role.as_str()),
            Principal::ApiKey(k) => format!("{} key", k.kind.as_str()),
        }
    }
}

impl Access {
    /// Whether `principal` satisfies this rule (401/403 mapping is the caller's).
    pub fn admits(self, principal: &Principal) -> bool {
        match self {
            Access::Public => true,
            Access::Token(_) => false,
            Access::Restricted(allowed) => allowed.iter().any(|a| match (a, principal) {
                (Allow::User(min), Principal::User(user)) => user.role.at_least(*min),
                (Allow::Kiosk, Principal::ApiKey(key)) => key.kind == KeyKind::Kiosk,
                (Allow::Display, Principal::ApiKey(key)) => key.kind == KeyKind::Display,
                _ => false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> Principal {
        Principal::User(UserPrincipal {
            id: "u".into(),
            role,
            session_id: "s".into(),
            session_kind: "password".into(),
            member_id: None,
            session_renewed: false,
        })
    }

    fn key(kind: KeyKind) -> Principal {
        Principal::ApiKey(KeyPrincipal { id: "k".into(), kind, kiosk_id: Some("k1".into()), name: "n".into() })
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
        let kiosk = key(KeyKind::Kiosk);
        let qm_kiosk = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk]);
        assert!(qm_kiosk.admits(&kiosk));
        assert!(!Access::ADM.admits(&kiosk));
        assert!(!qm_kiosk.admits(&key(KeyKind::Display)));
        assert!(!qm_kiosk.admits(&key(KeyKind::Integration)));
        assert_eq!(key(KeyKind::Kiosk).kiosk_id(), Some("k1"));
    }
}
