//! The typed boundary between the handlers and the SQL functions that hold the business rules
//! (migrations/functions/; docs/architecture.md, "Calling a SQL function").
//!
//! Each SQL function the API calls has here: a Rust input type ([`DbCall`], its parameters built
//! from typed fields, jsonb arguments serialised from structs) and a Rust outcome type that the
//! function's jsonb result deserialises into — an enum tagged by `outcome`, matched exhaustively by
//! the handler. A request costs one round trip, and expected refusals never travel as database
//! errors. `every_outcome_the_sql_returns_is_known` (below) reads the function files and fails
//! when SQL returns an outcome its Rust type does not know.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use sentinel_http::{ApiError, Ctx, DbError, SqlParam};

use crate::audit::Actor;

/// One call of a jsonb-returning SQL function.
pub trait DbCall {
    /// The call expression, e.g. `scan_badge($1, $2, …)`; the statement is `SELECT <CALL> AS r`.
    const CALL: &'static str;
    /// What the function's jsonb result deserialises into.
    type Outcome: DeserializeOwned;
    fn params(&self) -> Vec<SqlParam>;
}

/// Runs `call` and decodes its result. A result that does not decode is a bug on one side of the
/// boundary: a 500 whose log names the function and the decoding error.
pub fn run<C: DbCall>(ctx: &Ctx, call: &C) -> Result<C::Outcome, ApiError> {
    let row = ctx.db().query_row(&format!("SELECT {} AS r", C::CALL), &call.params()).map_err(map_db_error)?;
    let value = row.json("r");
    serde_json::from_value(value).map_err(|e| ApiError::internal(format!("{}: result does not decode: {e}", C::CALL)))
}

/// Invariant violations raised by triggers when a concurrent request won a
/// race (badge linkage, assignability) are conflicts, not server errors.
pub fn map_db_error(e: DbError) -> ApiError {
    match e.sqlstate.as_deref() {
        Some("SN002") | Some("SN003") => ApiError::conflict("The badge assignment changed concurrently; retry"),
        Some("SN004") => ApiError::new(
            http::StatusCode::CONFLICT,
            "INVALID_TRANSITION",
            "The event lifecycle does not allow this status change: draft → active → completed (by closing), draft or active → cancelled",
        ),
        Some("23505") => ApiError::conflict("A conflicting record was written concurrently; retry"),
        Some("40P01") | Some("40001") => ApiError::conflict("Concurrent update; retry"),
        _ => e.into(),
    }
}

/// A uuid that passed validation, canonical lower-case.
pub fn uuid_text(s: &str) -> String {
    sentinel_domain::uuid::parse_uuid(s).unwrap_or_default()
}

/// garde validator: a well-formed UUID.
pub fn valid_uuid(value: &str, _: &()) -> garde::Result {
    if sentinel_domain::uuid::parse_uuid(value).is_some() { Ok(()) } else { Err(garde::Error::new("must be a valid UUID")) }
}

/// Turns a domain rule into a garde validator.
pub fn rule(result: Result<(), &'static str>) -> garde::Result {
    result.map_err(garde::Error::new)
}

/// A field of a partial update sent to a `*_save` function: left out (unchanged), or set — to a
/// value or to null (cleared).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Unchanged,
    Set(Option<T>),
}

impl<T> Field<T> {
    pub fn is_unchanged(&self) -> bool {
        matches!(self, Field::Unchanged)
    }
    /// A required value that the client sent.
    pub fn value(value: T) -> Self {
        Field::Set(Some(value))
    }
    /// An optional value: sent when present, left out when absent.
    pub fn when(value: Option<T>) -> Self {
        value.map(Field::value).unwrap_or_default()
    }
    /// A nullable value of a PATCH: absent → unchanged, `null` → cleared.
    pub fn patch(value: Option<Option<T>>) -> Self {
        value.map(Field::Set).unwrap_or_default()
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Set(v) => v.serialize(s),
            Field::Unchanged => s.serialize_none(),
        }
    }
}


/// Whether a struct of [`Field`]s would send no field at all (a PATCH with nothing to change).
fn sends_nothing<T: Serialize>(fields: &T) -> bool {
    serde_json::to_value(fields).ok().and_then(|v| v.as_object().map(|o| o.is_empty())).unwrap_or(true)
}

fn json_param<T: Serialize>(value: &T) -> SqlParam {
    SqlParam::Json(serde_json::to_value(value).expect("plain data serialises"))
}

// ------------------------------------------------------------------ check-ins (60_checkins.sql)

/// `scan_badge`: one badge scan at a kiosk.
pub struct ScanBadge<'a> {
    pub serial_number: &'a str,
    pub kiosk_id: &'a str,
    /// ISO-8601 instant.
    pub timestamp: String,
    pub actor: Actor,
}

impl DbCall for ScanBadge<'_> {
    const CALL: &'static str = "scan_badge($1, $2, $3::text::timestamptz, $4::text::uuid, $5::text, $6::text)";
    type Outcome = ScanResult;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.serial_number.into(), self.kiosk_id.into(), self.timestamp.as_str().into(), user, key, ip]
    }
}

/// A scan's outcome (its alert, muster and realtime events are written by the database: docs/database.md, "Realtime outbox").
#[derive(Debug, Deserialize)]
pub struct ScanResult {
    #[serde(flatten)]
    pub outcome: ScanOutcome,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum ScanOutcome {
    Ok { checkin: Value, member: Value, direction: String, warning: Option<Value> },
    BadgeNotFound { serial_number: String },
    BadgeInactive { serial_number: String, status: String },
    BadgeUnassigned { serial_number: String },
    BadgeTypeNotSupported { serial_number: String, assignment_type: String },
    MemberNotFound { member_id: String },
    DuplicateScan { last_checkin_id: Value, last_timestamp: Value, last_direction: Value },
    LockupHeld { details: Value },
}

/// `record_checkin`: a check-in recorded by staff or a kiosk (create) or a forced checkout.
pub struct RecordCheckin {
    pub member_id: String,
    pub badge_id: Option<String>,
    pub direction: &'static str,
    pub kiosk_id: String,
    pub method: String,
    /// ISO-8601 instant; now when absent.
    pub timestamp: Option<String>,
    pub flagged_for_review: Option<bool>,
    pub flag_reason: Option<String>,
    pub client_ref: Option<String>,
    /// Refuse a checkout of the Lockup holder (LOCKUP_HELD).
    pub check_lockup: bool,
    /// Refuse a checkout of a member who is not in (NOT_CHECKED_IN).
    pub require_checked_in: bool,
    pub actor: Actor,
    pub audit_action: &'static str,
    pub audit_details: Value,
}

impl DbCall for RecordCheckin {
    const CALL: &'static str = "record_checkin($1::text::uuid, $2::text::uuid, $3, $4, $5, coalesce($6::text::timestamptz, now()), $7::boolean,
        $8::text, $9::text, $10::text::uuid, $11, $12, $13::text, $14::text, $15, $16::jsonb)";
    type Outcome = RecordOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![
            self.member_id.as_str().into(),
            self.badge_id.clone().into(),
            self.direction.into(),
            self.kiosk_id.as_str().into(),
            self.method.as_str().into(),
            self.timestamp.clone().into(),
            self.flagged_for_review.into(),
            self.flag_reason.clone().into(),
            self.client_ref.clone().into(),
            user,
            self.check_lockup.into(),
            self.require_checked_in.into(),
            key,
            ip,
            self.audit_action.into(),
            SqlParam::Json(self.audit_details.clone()),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum RecordOutcome {
    /// `duplicate`: the client reference was already stored; nothing new (and no `event`).
    Ok { checkin: Value, duplicate: bool, event: Option<Value> },
    MemberNotFound { member_id: String },
    BadgeNotFound { badge_id: String },
    BadgeMemberMismatch { badge_id: String, member_id: String },
    NotCheckedIn { member_id: String },
    LockupHeld { details: Value },
}

/// `bulk_checkins`: a batch of check-ins, each validated and normalised by the API.
pub struct BulkCheckins {
    pub items: Vec<BulkItem>,
    pub actor: Actor,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkItem {
    pub index: usize,
    pub member_id: String,
    pub badge_id: Option<String>,
    pub direction: &'static str,
    pub kiosk_id: String,
    pub method: String,
    pub timestamp: String,
    pub flagged_for_review: Option<bool>,
    pub flag_reason: Option<String>,
    pub client_ref: Option<String>,
}

impl DbCall for BulkCheckins {
    const CALL: &'static str = "bulk_checkins($1::jsonb, $2::text::uuid, $3::text, $4::text)";
    type Outcome = BulkOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![json_param(&self.items), user, key, ip]
    }
}

#[derive(Debug, Deserialize)]
pub struct BulkOutcome {
    pub success: i64,
    pub failed: i64,
    pub errors: Value,
}

/// `sync_scans`: a kiosk's offline queue, replayed in the order the API planned.
pub struct SyncScans {
    pub kiosk_id: String,
    pub items: Vec<SyncItem>,
    pub actor: Actor,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncItem {
    pub index: usize,
    pub serial_number: String,
    pub timestamp: String,
    pub client_ref: Option<String>,
    pub drift_reason: Option<String>,
    pub collapsed_into: Option<usize>,
}

impl DbCall for SyncScans {
    const CALL: &'static str = "sync_scans($1, $2::jsonb, $3::text::uuid, $4::text, $5::text)";
    type Outcome = SyncOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.kiosk_id.as_str().into(), json_param(&self.items), user, key, ip]
    }
}

#[derive(Debug, Deserialize)]
pub struct SyncOutcome {
    /// One per item, in request order: `{index, success, …}`.
    pub results: Vec<Value>,
}

// ------------------------------------------------------------------ security alerts (50_alerts.sql)

/// `create_security_alert`: an alert raised by staff or a kiosk, or the identical active one of the
/// suppression window.
pub struct CreateSecurityAlert {
    pub alert_type: String,
    pub severity: String,
    pub badge_serial: Option<String>,
    pub member_id: Option<String>,
    pub kiosk_id: String,
    pub message: String,
    pub details: Option<Value>,
    /// A PostgreSQL interval, e.g. `5 minutes`.
    pub suppression_window: &'static str,
    pub actor: Actor,
}

impl DbCall for CreateSecurityAlert {
    const CALL: &'static str = "create_security_alert($1, $2, $3::text, $4::text::uuid, $5, $6, $7::jsonb, $8::text::interval, $9::text::uuid, $10::text, $11::text)";
    type Outcome = AlertOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![
            self.alert_type.as_str().into(),
            self.severity.as_str().into(),
            self.badge_serial.clone().into(),
            self.member_id.clone().into(),
            self.kiosk_id.as_str().into(),
            self.message.as_str().into(),
            self.details.clone().map(SqlParam::Json).unwrap_or(SqlParam::Null),
            self.suppression_window.into(),
            user,
            key,
            ip,
        ]
    }
}

#[derive(Debug, Deserialize)]
pub struct AlertOutcome {
    /// False when an identical active alert was matched instead (no `alert:new` then).
    pub created: bool,
    pub alert: Value,
}

// ------------------------------------------------------------------ badges and members (70_badges_members.sql)

/// The fields of `badge_save` (only those the client sent).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BadgeFields {
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub serial_number: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub assignment_type: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub assigned_to_id: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub status: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub badge_status_id: Field<String>,
}

impl BadgeFields {
    pub fn is_empty(&self) -> bool {
        sends_nothing(self)
    }
}

/// `badge_save`: create (`id` None) or update a badge.
pub struct BadgeSave {
    pub id: Option<String>,
    pub fields: BadgeFields,
    pub actor: Actor,
}

impl DbCall for BadgeSave {
    const CALL: &'static str = "badge_save($1::text::uuid, $2::jsonb, $3::text::uuid, $4, $5)";
    type Outcome = BadgeOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.id.clone().into(), json_param(&self.fields), user, key, ip]
    }
}

/// `badge_assign`: assign a free active badge to a member, visitor or event attendee.
pub struct BadgeAssign {
    pub id: String,
    pub assignment_type: String,
    pub holder_id: String,
    pub actor: Actor,
}

impl DbCall for BadgeAssign {
    const CALL: &'static str = "badge_assign($1::text::uuid, $2, $3::text::uuid, $4::text::uuid, $5, $6)";
    type Outcome = BadgeOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.id.as_str().into(), self.assignment_type.as_str().into(), self.holder_id.as_str().into(), user, key, ip]
    }
}

/// `badge_unassign`: return a badge to the pool.
pub struct BadgeUnassign {
    pub id: String,
    pub actor: Actor,
}

impl DbCall for BadgeUnassign {
    const CALL: &'static str = "badge_unassign($1::text::uuid, $2::text::uuid, $3, $4)";
    type Outcome = BadgeOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.id.as_str().into(), user, key, ip]
    }
}

/// The outcomes of `badge_save`, `badge_assign` and `badge_unassign` (they share their rules).
#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum BadgeOutcome {
    /// `assignmentChanged` (save) or `changed` (assign, unassign): a `badge:assignment` is due.
    Ok {
        badge: Value,
        #[serde(default, alias = "changed")]
        assignment_changed: bool,
    },
    NotFound,
    DuplicateSerial { serial_number: String },
    BadgeStatusNotFound { badge_status_id: String },
    StatusMismatch,
    HolderNotFound { holder_id: String },
    BadgeNotActive { status: String },
    BadgeAlreadyAssigned,
    MemberHasBadge,
    AssignmentTypeRequired,
}

/// The fields of `member_save` (only those the client sent).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberFields {
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub service_number: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub rank: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub first_name: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub last_name: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub middle_initial: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub division_id: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub email: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub phone_number: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub member_type_id: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub member_status_id: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub status: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub badge_id: Field<String>,
}

impl MemberFields {
    pub fn is_empty(&self) -> bool {
        sends_nothing(self)
    }
}

/// `member_save`: create (`id` None) or update a member.
pub struct MemberSave {
    pub id: Option<String>,
    pub fields: MemberFields,
    pub actor: Actor,
}

impl DbCall for MemberSave {
    const CALL: &'static str = "member_save($1::text::uuid, $2::jsonb, $3::text::uuid, $4, $5)";
    type Outcome = MemberOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.id.clone().into(), json_param(&self.fields), user, key, ip]
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum MemberOutcome {
    /// `badges`: Badge objects whose assignment changed; `presenceChanged`: a `presence:update` is due.
    Ok {
        member: Value,
        #[serde(default)]
        badges: Vec<Value>,
        #[serde(default)]
        presence_changed: bool,
    },
    NotFound,
    InvalidRank { rank: String },
    DivisionNotFound { id: String },
    MemberTypeNotFound { id: String },
    MemberStatusNotFound { id: String },
    StatusMismatch,
    BadgeNotFound { id: String },
    BadgeNotAssignable { id: String, status: String, assignment_type: String },
    DuplicateServiceNumber { service_number: String },
}

// ------------------------------------------------------------------ visitors (80_visitors.sql)

/// The fields of `visitor_sign_in` and `visitor_update` (only those the client sent; instants canonical ISO text).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VisitorFields {
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub name: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub organization: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub visit_type: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub visit_type_id: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub visit_reason: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub event_id: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub host_member_id: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub check_in_time: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub check_out_time: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub temporary_badge_id: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub kiosk_id: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub admin_notes: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub check_in_method: Field<String>,
}

impl VisitorFields {
    pub fn is_empty(&self) -> bool {
        sends_nothing(self)
    }
}

/// `visitor_sign_in`: a visitor signed in by staff or a kiosk, with an optional temporary badge.
pub struct VisitorSignIn {
    pub fields: VisitorFields,
    pub actor: Actor,
}

impl DbCall for VisitorSignIn {
    const CALL: &'static str = "visitor_sign_in($1::jsonb, $2::text::uuid, $3, $4)";
    type Outcome = VisitorOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![json_param(&self.fields), user, key, ip]
    }
}

/// `visitor_sign_out`: the (idempotent) checkout.
pub struct VisitorSignOut {
    pub id: String,
    pub actor: Actor,
}

impl DbCall for VisitorSignOut {
    const CALL: &'static str = "visitor_sign_out($1::text::uuid, $2::text::uuid, $3, $4)";
    type Outcome = VisitorOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.id.as_str().into(), user, key, ip]
    }
}

/// `visitor_update`: a correction of a visit.
pub struct VisitorUpdate {
    pub id: String,
    pub fields: VisitorFields,
    pub actor: Actor,
}

impl DbCall for VisitorUpdate {
    const CALL: &'static str = "visitor_update($1::text::uuid, $2::jsonb, $3::text::uuid, $4, $5)";
    type Outcome = VisitorOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.id.as_str().into(), json_param(&self.fields), user, key, ip]
    }
}

/// The outcomes of `visitor_sign_in`, `visitor_sign_out` and `visitor_update` (they share their rules).
#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum VisitorOutcome {
    /// `signedOut`: this call signed the visitor out (`visitor:signout` is due); `badges`: Badge objects whose
    /// assignment changed (`badge:assignment`); `hostName`: `<rank> <first> <last>` of the host.
    Ok {
        visitor: Value,
        #[serde(default)]
        host_name: Option<String>,
        signed_out: bool,
        badges: Vec<Value>,
    },
    NotFound,
    EventNotFound { event_id: String },
    HostNotFound { host_member_id: String },
    VisitTypeNotFound { visit_type: String },
    VisitTypeMismatch,
    CheckOutBeforeCheckIn,
    CheckOutCleared,
    BadgeForSignedOut,
    /// The temporary badge was refused by `badge_assign`'s rules.
    BadgeRefused { refusal: BadgeOutcome },
}

// ------------------------------------------------------------------ events (90_events.sql)

/// The fields of `event_save` (only those the client sent; dates as `YYYY-MM-DD`).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFields {
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub name: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub code: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub description: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub start_date: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub end_date: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub status: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub auto_expire_badges: Field<bool>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub custom_roles: Field<Value>,
}

impl EventFields {
    pub fn is_empty(&self) -> bool {
        sends_nothing(self)
    }
}

/// `event_save`: create (`id` None) or update an event.
pub struct EventSave {
    pub id: Option<String>,
    pub fields: EventFields,
    pub actor: Actor,
}

impl DbCall for EventSave {
    const CALL: &'static str = "event_save($1::text::uuid, $2::jsonb, $3::text::uuid, $4, $5)";
    type Outcome = EventOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.id.clone().into(), json_param(&self.fields), user, key, ip]
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum EventOutcome {
    Ok { event: Value },
    NotFound,
    DuplicateCode { code: String },
    InvalidDates { start_date: String, end_date: String },
}

/// `event_close`: complete an active event (expiring attendees and freeing badges on the unit's
/// operational day when it auto-expires).
pub struct EventClose {
    pub id: String,
    pub zone: String,
    /// The day rollover as an interval literal (`03:00`).
    pub rollover: String,
    pub actor: Actor,
}

impl DbCall for EventClose {
    const CALL: &'static str = "event_close($1::text::uuid, $2, $3::text::interval, $4::text::uuid, $5, $6)";
    type Outcome = EventCloseOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.id.as_str().into(), self.zone.as_str().into(), self.rollover.as_str().into(), user, key, ip]
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum EventCloseOutcome {
    /// `changed`: false when the event was completed already; `badges`: the Badge objects returned to the pool.
    Ok { event: Value, expired_count: i64, changed: bool, badges: Vec<Value> },
    NotFound,
    EventCancelled,
}

/// `event_delete`: delete an event, freeing its badges.
pub struct EventDelete {
    pub id: String,
    pub actor: Actor,
}

impl DbCall for EventDelete {
    const CALL: &'static str = "event_delete($1::text::uuid, $2::text::uuid, $3, $4)";
    type Outcome = EventDeleteOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.id.as_str().into(), user, key, ip]
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum EventDeleteOutcome {
    Ok { event: Value, badges: Vec<Value> },
    NotFound,
}

/// The fields of `attendee_save` (only those the client sent; dates as `YYYY-MM-DD`).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttendeeFields {
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub name: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub rank: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub organization: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub role: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub badge_id: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub badge_assigned_at: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub access_start: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub access_end: Field<String>,
    #[serde(skip_serializing_if = "Field::is_unchanged")]
    pub status: Field<String>,
}

impl AttendeeFields {
    pub fn is_empty(&self) -> bool {
        sends_nothing(self)
    }
}

/// `attendee_save`: add (`id` None) or change an attendee of the event, badge included.
pub struct AttendeeSave {
    pub event_id: String,
    pub id: Option<String>,
    pub fields: AttendeeFields,
    pub actor: Actor,
}

impl DbCall for AttendeeSave {
    const CALL: &'static str = "attendee_save($1::text::uuid, $2::text::uuid, $3::jsonb, $4::text::uuid, $5, $6)";
    type Outcome = AttendeeOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.event_id.as_str().into(), self.id.clone().into(), json_param(&self.fields), user, key, ip]
    }
}

/// `attendee_remove`: take an attendee's badge back (`delete` false) or remove the attendee.
pub struct AttendeeRemove {
    pub event_id: String,
    pub id: String,
    pub delete: bool,
    pub actor: Actor,
}

impl DbCall for AttendeeRemove {
    const CALL: &'static str = "attendee_remove($1::text::uuid, $2::text::uuid, $3, $4::text::uuid, $5, $6)";
    type Outcome = AttendeeOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.event_id.as_str().into(), self.id.as_str().into(), self.delete.into(), user, key, ip]
    }
}

/// The outcomes of `attendee_save` and `attendee_remove`.
#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum AttendeeOutcome {
    /// `attendee`: null once removed; `badges`: the Badge objects whose assignment changed.
    Ok { attendee: Value, badges: Vec<Value> },
    EventNotFound { event_id: String },
    NotFound { attendee_id: String },
    EventClosed { status: String },
    InvalidAccessWindow,
    /// `badge_assign` refused the new badge.
    BadgeRefused { refusal: BadgeOutcome },
}

/// `event_scan`: an event badge scanned at a kiosk.
pub struct EventScan {
    pub serial_number: String,
    pub kiosk_id: String,
    /// ISO-8601 instant.
    pub timestamp: String,
    pub zone: String,
    /// The day rollover as an interval literal (`03:00`).
    pub rollover: String,
    pub actor: Actor,
}

impl DbCall for EventScan {
    const CALL: &'static str =
        "event_scan($1, $2, $3::text::timestamptz, $4, $5::text::interval, $6::text::uuid, $7::text, $8::text)";
    type Outcome = EventScanResult;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![
            self.serial_number.as_str().into(),
            self.kiosk_id.as_str().into(),
            self.timestamp.as_str().into(),
            self.zone.as_str().into(),
            self.rollover.as_str().into(),
            user,
            key,
            ip,
        ]
    }
}

/// An event scan's outcome plus the security alert it raised, if any.
#[derive(Debug, Deserialize)]
pub struct EventScanResult {
    #[serde(flatten)]
    pub outcome: EventScanOutcome,
    #[serde(default)]
    pub alert: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum EventScanOutcome {
    Ok { checkin: Value, attendee: Value, event: Value, direction: String },
    BadgeNotFound { serial_number: String },
    BadgeInactive { serial_number: String, status: String },
    BadgeUnassigned { serial_number: String },
    BadgeTypeNotSupported { serial_number: String, assignment_type: String },
    AttendeeNotFound { attendee_id: String },
    EventNotActive { event_name: String, status: String },
    EventNotInProgress { event_name: String, start_date: String, end_date: String, day: String },
    AttendeeExpired { attendee_name: String },
    AttendeeDenied { attendee_name: String },
    AccessNotStarted { attendee_name: String, access_start: String },
    DuplicateScan { last_checkin_id: Value, last_timestamp: Value, last_direction: Value },
}

// ------------------------------------------------------------------ lockup (94_lockup.sql)

/// `lockup_execute`: the Lockup holder empties the building.
pub struct LockupExecute {
    pub member_id: String,
    /// A kiosk's badge proof (`sentinel_api::proof`); None for users.
    pub actor_serial: Option<String>,
    pub note: Option<String>,
    pub zone: String,
    /// The day rollover as an interval literal (`03:00`).
    pub rollover: String,
    pub actor: Actor,
}

impl DbCall for LockupExecute {
    const CALL: &'static str = "lockup_execute($1::text::uuid, $2::text, $3::text, $4, $5::text::interval, $6::text::uuid, $7, $8)";
    type Outcome = LockupExecuteOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![
            self.member_id.as_str().into(),
            self.actor_serial.clone().into(),
            self.note.clone().into(),
            self.zone.as_str().into(),
            self.rollover.as_str().into(),
            user,
            key,
            ip,
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum LockupExecuteOutcome {
    /// `result`: the response (the pushes are written by the database).
    Ok { result: Value },
    NotFound,
    BadgeProofRequired,
    NotAuthorized,
}

/// `building_open`: a present member opens the building for the day.
pub struct BuildingOpen {
    pub member_id: String,
    pub actor_serial: Option<String>,
    pub zone: String,
    pub rollover: String,
    pub actor: Actor,
}

impl DbCall for BuildingOpen {
    const CALL: &'static str = "building_open($1::text::uuid, $2::text, $3, $4::text::interval, $5::text::uuid, $6, $7)";
    type Outcome = BuildingOpenOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.member_id.as_str().into(), self.actor_serial.clone().into(), self.zone.as_str().into(), self.rollover.as_str().into(), user, key, ip]
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum BuildingOpenOutcome {
    Ok { status: Value },
    NotFound,
    BadgeProofRequired,
    MemberNotActive { status: String },
    NotCheckedIn,
    AlreadyOpen { status: Value },
}

// ------------------------------------------------------------------ muster (98_muster.sql)

/// `muster_start`: a roll call of everyone inside now.
pub struct MusterStart {
    pub reason: Option<String>,
    pub actor: Actor,
}

impl DbCall for MusterStart {
    const CALL: &'static str = "muster_start($1::text, $2::text::uuid, $3, $4)";
    type Outcome = MusterOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.reason.clone().into(), user, key, ip]
    }
}

/// `muster_close`: end a roll call (idempotent).
pub struct MusterClose {
    pub id: String,
    pub actor: Actor,
}

impl DbCall for MusterClose {
    const CALL: &'static str = "muster_close($1::text::uuid, $2::text::uuid, $3, $4)";
    type Outcome = MusterOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.id.as_str().into(), user, key, ip]
    }
}

/// The outcomes of `muster_start` and `muster_close`.
#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum MusterOutcome {
    /// `event`: the `muster:update` due (null when nothing changed).
    Ok { muster: Value, event: Option<Value> },
    MusterInProgress { muster_id: String },
    NotFound,
}

/// `muster_account`: a person of the open muster accounted for by staff.
pub struct MusterAccount {
    pub id: String,
    pub person_id: String,
    pub actor: Actor,
}

impl DbCall for MusterAccount {
    const CALL: &'static str = "muster_account($1::text::uuid, $2::text::uuid, 'manual', $3::text::uuid, $4, $5)";
    type Outcome = MusterAccountOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.id.as_str().into(), self.person_id.as_str().into(), user, key, ip]
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum MusterAccountOutcome {
    Ok { person: Value, event: Option<Value> },
    NotFound,
    MusterClosed,
    PersonNotFound { person_id: String },
}

// ------------------------------------------------------------------ responsibilities (92_responsibilities.sql)

/// A move of the Lockup responsibility made by `lockup_move` (NULL in SQL when the target held it already).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockupMove {
    /// LockupHolder, or null when nobody held the tag (a grant).
    pub previous_holder: Option<Value>,
    /// LockupHolder.
    pub new_holder: Value,
    /// manual | granted | dds_handoff
    pub reason: String,
    /// The responsibility-audit row of the move.
    pub transfer_id: String,
    pub timestamp: String,
}

/// `lockup_transfer`: `POST /api/tags/lockup/transfer`.
pub struct LockupTransfer {
    pub to_member_id: String,
    pub notes: Option<String>,
    /// A kiosk's badge proof (`sentinel_api::proof::actor_badge`); None for users.
    pub actor_serial: Option<String>,
    pub actor: Actor,
}

impl DbCall for LockupTransfer {
    const CALL: &'static str = "lockup_transfer($1::text::uuid, $2::text, $3::text, $4::text::uuid, $5::text, $6::text)";
    type Outcome = LockupOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.to_member_id.as_str().into(), self.notes.clone().into(), self.actor_serial.clone().into(), user, key, ip]
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum LockupOutcome {
    /// `moved`: null when the target held the tag already (nothing written, nothing pushed).
    Ok { previous_holder: Option<Value>, new_holder: Value, moved: Option<LockupMove> },
    TagNotFound,
    MemberNotFound { member_id: String },
    MemberNotActive { member_id: String, status: String },
    BadgeProofRequired,
}

/// One call of a DDS write function (`dds_accept`, `dds_assign`, `dds_transfer`, `dds_release`, `dds_set_today`).
pub struct DdsCall<const A: u8> {
    /// The member (accept, assign, set-today) or the target (transfer); unused by release.
    pub member_id: Option<String>,
    pub notes: Option<String>,
    /// A kiosk's badge proof (accept, release).
    pub actor_serial: Option<String>,
    pub zone: String,
    /// The day rollover as an interval literal (`03:00`).
    pub rollover: String,
    pub actor: Actor,
}

/// `DdsCall<ACCEPT>` etc.: the function is part of the type, so each has its own `CALL`.
pub const ACCEPT: u8 = 0;
pub const ASSIGN: u8 = 1;
pub const TRANSFER: u8 = 2;
pub const RELEASE: u8 = 3;
pub const SET_TODAY: u8 = 4;

impl<const A: u8> DbCall for DdsCall<A> {
    const CALL: &'static str = match A {
        ACCEPT => "dds_accept($1::text::uuid, $2::text, $3::text, $4::text::interval, $5::text::uuid, $6::text, $7::text)",
        ASSIGN => "dds_assign($1::text::uuid, $2::text, $3::text, $4::text::interval, $5::text::uuid, $6::text, $7::text)",
        TRANSFER => "dds_transfer($1::text::uuid, $2::text, $3::text, $4::text::interval, $5::text::uuid, $6::text, $7::text)",
        RELEASE => "dds_release($1::text, $2::text, $3::text, $4::text::interval, $5::text::uuid, $6::text, $7::text)",
        SET_TODAY => "dds_set_today($1::text::uuid, $2::text, $3::text, $4::text::interval, $5::text::uuid, $6::text, $7::text)",
        _ => panic!("DdsCall: A must be ACCEPT, ASSIGN, TRANSFER, RELEASE or SET_TODAY"),
    };
    type Outcome = DdsOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        let (first, second): (SqlParam, SqlParam) = match A {
            ACCEPT => (self.member_id.clone().into(), self.actor_serial.clone().into()),
            RELEASE => (self.notes.clone().into(), self.actor_serial.clone().into()),
            _ => (self.member_id.clone().into(), self.notes.clone().into()),
        };
        vec![first, second, self.zone.as_str().into(), self.rollover.as_str().into(), user, key, ip]
    }
}

/// The outcomes of the DDS write functions (they share their rules).
#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum DdsOutcome {
    /// `assignment`: today's current DdsAssignment after the call (null after a release); `action`: the
    /// `dds:update` action (accepted | assigned | transferred | released), null when nothing changed;
    /// `lockup`: the Lockup move that aligned it with the DDS; `replaced`: the assignment this call closed.
    Ok {
        assignment: Option<Value>,
        action: Option<String>,
        #[serde(default)]
        lockup: Option<LockupMove>,
        #[serde(default)]
        replaced: Option<Value>,
    },
    MemberNotFound { member_id: String },
    MemberNotActive { member_id: String, status: String },
    BadgeProofRequired,
    AlreadyAssigned,
    NoCurrent,
    SameMember,
}

/// `member_tag_add` (`add`) or `member_tag_remove`: a member's ordinary tags.
pub struct MemberTagChange<const ADD: bool> {
    pub member_id: String,
    pub tag_id: String,
    pub actor: Actor,
}

impl<const ADD: bool> DbCall for MemberTagChange<ADD> {
    const CALL: &'static str = if ADD {
        "member_tag_add($1::text::uuid, $2::text::uuid, $3::text::uuid, $4, $5)"
    } else {
        "member_tag_remove($1::text::uuid, $2::text::uuid, $3::text::uuid, $4, $5)"
    };
    type Outcome = MemberTagOutcome;
    fn params(&self) -> Vec<SqlParam> {
        let [user, key, ip] = self.actor.params();
        vec![self.member_id.as_str().into(), self.tag_id.as_str().into(), user, key, ip]
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum MemberTagOutcome {
    /// `tag`: the MemberTag; `changed`: false when the member held it already (add).
    Ok { tag: Value, changed: bool },
    MemberNotFound { member_id: String },
    TagNotFound { tag_id: String },
    ProtectedTag { tag_name: String },
    TagHeld { tag_name: String },
    NotHeld { tag_name: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const FUNCTION_FILES: &[&str] = &[
        include_str!("../../../migrations/functions/60_checkins.sql"),
        include_str!("../../../migrations/functions/70_badges_members.sql"),
        include_str!("../../../migrations/functions/80_visitors.sql"),
        include_str!("../../../migrations/functions/90_events.sql"),
        include_str!("../../../migrations/functions/92_responsibilities.sql"),
        include_str!("../../../migrations/functions/94_lockup.sql"),
        include_str!("../../../migrations/functions/98_muster.sql"),
    ];

    /// The body of SQL function `name` in the function files.
    fn body_of(name: &str) -> String {
        let header = format!("CREATE OR REPLACE FUNCTION {name}(");
        let file = FUNCTION_FILES.iter().find(|f| f.contains(&header)).unwrap_or_else(|| panic!("no function {name}"));
        let start = file.find(&header).unwrap();
        let end = file[start..].find("\nEND $$;").map(|e| start + e).unwrap_or(file.len());
        file[start..end].to_string()
    }

    /// Every outcome code a function can return: `'outcome', 'X'` literals, and the codes of the
    /// text-returning helper `badge_link` where the function passes them on.
    fn outcomes_of(name: &str) -> BTreeSet<String> {
        let body = body_of(name);
        let mut codes = literals_after(&body, "'outcome', '");
        if body.contains("jsonb_build_object('outcome', outcome)") && body.contains("badge_link(") {
            codes.extend(literals_after(&body_of("badge_link"), "RETURN '"));
        }
        if body.contains("badge_scan_refusal(") {
            codes.extend(literals_after(&body_of("badge_scan_refusal"), "'outcome', '"));
        }
        if body.contains("FROM visitor_check_refs(f)") {
            codes.extend(literals_after(&body_of("visitor_check_refs"), "'outcome', '"));
        }
        codes
    }

    fn literals_after(text: &str, marker: &str) -> BTreeSet<String> {
        text.match_indices(marker).map(|(i, _)| text[i + marker.len()..].split('\'').next().unwrap().to_string()).collect()
    }

    /// `{"outcome": code}` decodes to a known variant: any error other than an unknown variant
    /// (missing fields, which this bare object lacks) means the variant exists.
    fn known<T: DeserializeOwned>(code: &str) -> bool {
        match serde_json::from_value::<T>(serde_json::json!({ "outcome": code })) {
            Ok(_) => true,
            Err(e) => !e.to_string().contains("unknown variant"),
        }
    }

    #[test]
    fn every_outcome_the_sql_returns_is_known() {
        let checks: &[(&str, fn(&str) -> bool)] = &[
            ("scan_badge", known::<ScanOutcome>),
            ("record_checkin", known::<RecordOutcome>),
            ("badge_save", known::<BadgeOutcome>),
            ("badge_assign", known::<BadgeOutcome>),
            ("badge_unassign", known::<BadgeOutcome>),
            ("member_save", known::<MemberOutcome>),
            ("visitor_sign_in", known::<VisitorOutcome>),
            ("visitor_sign_out", known::<VisitorOutcome>),
            ("visitor_update", known::<VisitorOutcome>),
            ("event_save", known::<EventOutcome>),
            ("event_close", known::<EventCloseOutcome>),
            ("event_delete", known::<EventDeleteOutcome>),
            ("attendee_save", known::<AttendeeOutcome>),
            ("attendee_remove", known::<AttendeeOutcome>),
            ("event_scan", known::<EventScanOutcome>),
            ("lockup_transfer", known::<LockupOutcome>),
            ("dds_accept", known::<DdsOutcome>),
            ("dds_assign", known::<DdsOutcome>),
            ("dds_transfer", known::<DdsOutcome>),
            ("dds_release", known::<DdsOutcome>),
            ("dds_set_today", known::<DdsOutcome>),
            ("member_tag_add", known::<MemberTagOutcome>),
            ("member_tag_remove", known::<MemberTagOutcome>),
            ("lockup_execute", known::<LockupExecuteOutcome>),
            ("building_open", known::<BuildingOpenOutcome>),
            ("muster_start", known::<MusterOutcome>),
            ("muster_close", known::<MusterOutcome>),
            ("muster_account", known::<MusterAccountOutcome>),
        ];
        for (function, is_known) in checks {
            let codes = outcomes_of(function);
            assert!(codes.contains("OK"), "{function}: {codes:?}");
            for code in &codes {
                assert!(is_known(code), "{function} returns outcome {code}, which its Rust outcome type does not know");
            }
        }
        assert!(!known::<ScanOutcome>("SOMETHING_NEW"));
    }

    #[test]
    fn outcomes_decode_with_their_fields() {
        let r: ScanResult = serde_json::from_value(serde_json::json!({
            "outcome": "BADGE_INACTIVE", "serialNumber": "B1", "status": "lost", "alert": {"id": "a"}
        }))
        .unwrap();
        assert!(matches!(r.outcome, ScanOutcome::BadgeInactive { ref status, .. } if status == "lost"));
        let b: BadgeOutcome = serde_json::from_value(serde_json::json!({"outcome": "OK", "changed": true, "badge": {}})).unwrap();
        assert!(matches!(b, BadgeOutcome::Ok { assignment_changed: true, .. }));
        // A badge refusal travels inside the visitor outcome, in badge_assign's own shape.
        let v: VisitorOutcome = serde_json::from_value(serde_json::json!({
            "outcome": "BADGE_REFUSED", "refusal": {"outcome": "BADGE_NOT_ACTIVE", "status": "lost"}
        }))
        .unwrap();
        assert!(matches!(v, VisitorOutcome::BadgeRefused { refusal: BadgeOutcome::BadgeNotActive { ref status } } if status == "lost"));
    }

    #[test]
    fn partial_fields_serialise_only_what_was_sent() {
        let fields = MemberFields {
            rank: Field::value("S1".to_string()),
            email: Field::patch(Some(None)),
            phone_number: Field::patch(None),
            ..Default::default()
        };
        assert_eq!(serde_json::to_value(&fields).unwrap(), serde_json::json!({"rank": "S1", "email": null}));
        assert!(MemberFields::default().is_empty());
    }
}
