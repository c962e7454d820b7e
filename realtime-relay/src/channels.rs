//! The channels and who may subscribe: the original nine, and `muster` (evacuation roll calls).

use sentinel_domain::role::Role;

use crate::auth::{KeyKind, Principal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Presence,
    Checkins,
    Visitors,
    Alerts,
    Dds,
    Lockup,
    Events,
    Badges,
    Kiosks,
    Muster,
}

/// Internal stream the auth component publishes logouts and revocations to
/// (`session:revoked`, `api_key:revoked`); never subscribable.
pub const SESSIONS_STREAM: &str = "sentinel:rt:sessions";

pub const STREAM_PREFIX: &str = "sentinel:rt:";

impl Channel {
    pub const ALL: [Channel; 10] = [
        Channel::Presence,
        Channel::Checkins,
        Channel::Visitors,
        Channel::Alerts,
        Channel::Dds,
        Channel::Lockup,
        Channel::Events,
        Channel::Badges,
        Channel::Kiosks,
        Channel::Muster,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Channel::Presence => "presence",
            Channel::Checkins => "checkins",
            Channel::Visitors => "visitors",
            Channel::Alerts => "alerts",
            Channel::Dds => "dds",
            Channel::Lockup => "lockup",
            Channel::Events => "events",
            Channel::Badges => "badges",
            Channel::Kiosks => "kiosks",
            Channel::Muster => "muster",
        }
    }

    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The Redis stream the components append this channel's events to.
    pub fn stream_key(self) -> String {
        format!("{STREAM_PREFIX}{}", self.name())
    }

    /// The least user role that may subscribe.
    fn min_role(self) -> Role {
        match self {
            Channel::Alerts | Channel::Lockup | Channel::Muster => Role::DutyWatch,
            Channel::Kiosks => Role::Admin,
            _ => Role::Quartermaster,
        }
    }

    fn allows_key(self, kind: KeyKind) -> bool {
        match kind {
            KeyKind::Kiosk => matches!(self, Channel::Presence | Channel::Checkins | Channel::Visitors | Channel::Dds | Channel::Lockup),
            KeyKind::Display => matches!(self, Channel::Presence | Channel::Checkins | Channel::Visitors | Channel::Dds | Channel::Muster),
            KeyKind::Integration => false,
        }
    }

    /// `Err(message)` for the `FORBIDDEN` error of a refused subscription.
    pub fn authorize(self, principal: &Principal) -> Result<(), String> {
        let allowed = match principal {
            Principal::User(user) => user.role.at_least(self.min_role()),
            Principal::Key(key) => self.allows_key(key.kind),
        };
        if allowed {
            Ok(())
        } else {
            Err(format!("{} role required to subscribe to {}", self.min_role().as_str(), self.name()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{KeyPrincipal, UserPrincipal};

    fn user(role: Role) -> Principal {
        Principal::User(UserPrincipal { user_id: "u".into(), session_id: "s".into(), role, token_hash: "h".into() })
    }

    fn key(kind: KeyKind) -> Principal {
        Principal::Key(KeyPrincipal { key_id: "k".into(), kind, kiosk_id: None, key_hash: "h".into() })
    }

    #[test]
    fn access_matrix() {
        use Channel::*;
        let qm = user(Role::Quartermaster);
        let dw = user(Role::DutyWatch);
        let ex = user(Role::Executive);
        let adm = user(Role::Admin);
        let kiosk = key(KeyKind::Kiosk);
        let display = key(KeyKind::Display);
        let integration = key(KeyKind::Integration);
        let table: [(Channel, [bool; 7]); 10] = [
            //            qm     dw     ex     adm    kiosk  display integration
            (Presence, [true, true, true, true, true, true, false]),
            (Checkins, [true, true, true, true, true, true, false]),
            (Visitors, [true, true, true, true, true, true, false]),
            (Alerts, [false, true, true, true, false, false, false]),
            (Dds, [true, true, true, true, true, true, false]),
            (Lockup, [false, true, true, true, true, false, false]),
            (Events, [true, true, true, true, false, false, false]),
            (Badges, [true, true, true, true, false, false, false]),
            (Kiosks, [false, false, false, true, false, false, false]),
            (Muster, [false, true, true, true, false, true, false]),
        ];
        for (channel, expected) in table {
            for (principal, allowed) in [&qm, &dw, &ex, &adm, &kiosk, &display, &integration].into_iter().zip(expected) {
                assert_eq!(channel.authorize(principal).is_ok(), allowed, "{channel:?} {principal:?}");
            }
        }
        assert_eq!(Alerts.authorize(&qm).unwrap_err(), "duty_watch role required to subscribe to alerts");
        assert_eq!(Kiosks.authorize(&display).unwrap_err(), "admin role required to subscribe to kiosks");
    }

    #[test]
    fn names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.name()), Some(c));
            assert_eq!(Channel::ALL[c.index()], c);
        }
        assert_eq!(Channel::parse("logs"), None);
        assert_eq!(Channel::Checkins.stream_key(), "sentinel:rt:checkins");
    }
}
