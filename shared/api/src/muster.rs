//! Muster roll calls: in an evacuation, duty staff start a muster from who is inside now (present members
//! and visitors on site) and account for each person at the muster point — by hand, or by the person
//! scanning their badge at a kiosk. Writes go through `migrations/functions/98_muster.sql` (typed in
//! `calls.rs`); every change pushes `muster:update` on the `muster` channel (docs/database.md, "Muster").

use garde::Validate;
use http::{Method, StatusCode};
use sentinel_domain::Role;
use sentinel_http::{created, ok, Access, Allow, ApiError, Ctx, HandlerResult, Reply, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::Actor;
use crate::calls::{run, MusterAccount, MusterAccountOutcome, MusterClose, MusterOutcome, MusterStart};

const DW_OR_DISPLAY: Access = Access::Restricted(&[Allow::User(Role::DutyWatch), Allow::Display]);

pub fn routes(router: Router) -> Router {
    router
        .route(Method::POST, "/api/muster", Access::DW, start)
        .route(Method::GET, "/api/muster/current", DW_OR_DISPLAY, current)
        .route(Method::GET, "/api/muster/:id", Access::DW, get)
        .route(Method::GET, "/api/muster/:id/roll.csv", Access::DW, roll_csv)
        .route(Method::POST, "/api/muster/:id/account/:personId", Access::DW, account)
        .route(Method::POST, "/api/muster/:id/close", Access::DW, close)
}

/// One person on a muster's roll.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct MusterPerson {
    /// The member or visitor id.
    #[schema(format = "uuid")]
    person_id: String,
    /// member | visitor
    #[serde(rename = "type")]
    #[schema(pattern = "^(member|visitor)$")]
    kind: String,
    name: String,
    rank: Option<String>,
    division: Option<String>,
    organization: Option<String>,
    /// When they came in (latest check-in or sign-in).
    #[schema(format = DateTime)]
    checked_in_at: Option<String>,
    accounted: bool,
    #[schema(format = DateTime)]
    accounted_at: Option<String>,
    /// The user who marked them (null for a badge scan).
    #[schema(format = "uuid")]
    accounted_by: Option<String>,
    /// manual | scan
    #[schema(pattern = "^(manual|scan)$")]
    accounted_method: Option<String>,
}

/// A muster roll call: everyone inside when it started, missing people first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Muster {
    #[schema(format = "uuid")]
    id: String,
    /// open | closed
    #[schema(pattern = "^(open|closed)$")]
    status: String,
    reason: Option<String>,
    #[schema(format = DateTime)]
    started_at: String,
    #[schema(format = "uuid")]
    started_by: Option<String>,
    #[schema(format = DateTime)]
    closed_at: Option<String>,
    #[schema(format = "uuid")]
    closed_by: Option<String>,
    total: i64,
    accounted: i64,
    missing: i64,
    people: Vec<MusterPerson>,
}

/// `{ muster: Muster | null }` — the open muster, if any.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct CurrentMuster {
    muster: Option<Muster>,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AccountedPerson {
    person: MusterPerson,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StartMuster {
    /// Why (e.g. "Fire alarm, drill hall"); up to 500 characters.
    #[garde(inner(length(chars, max = 500)))]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Muster with ID '{id}' not found"))
}

fn muster_by_id(ctx: &Ctx, id: &str) -> Result<Value, ApiError> {
    let row = ctx.db().query_one("SELECT muster_json(m) AS muster FROM musters m WHERE m.id = $1::text::uuid", &[id.into()])?;
    Ok(row.ok_or_else(|| not_found(id))?.json("muster"))
}

/// Start a muster
///
/// Starts a roll call of everyone inside now: present members and visitors on site, each to be accounted
/// for. Only one muster is open at a time. Pushes `muster:update` (`started`).
#[utoipa::path(post, path = "/api/muster", tag = "muster", request_body(content = StartMuster, description = "Optional"),
    responses((status = 201, body = Muster),
              (status = 409, description = "`MUSTER_IN_PROGRESS`: a muster is open (`details.musterId`); `CONFLICT`: a concurrent start won")))]
pub fn start(ctx: &Ctx) -> HandlerResult {
    let body: StartMuster = ctx.json()?;
    match run(ctx, &MusterStart { reason: body.reason, actor: Actor::of(ctx) })? {
        MusterOutcome::Ok { muster, .. } => created(muster),
        MusterOutcome::MusterInProgress { muster_id } => Err(ApiError::new(StatusCode::CONFLICT, "MUSTER_IN_PROGRESS", "A muster is already open; close it first")
            .with_details(json!({ "musterId": muster_id }))),
        MusterOutcome::NotFound => Err(ApiError::internal("muster_start answered NOT_FOUND")),
    }
}

/// The open muster
///
/// The muster in progress with everyone on its roll (missing people first), or `null` (the same data as
/// the `muster:current` backfill of the realtime channel).
#[utoipa::path(get, path = "/api/muster/current", tag = "muster", responses((status = 200, body = CurrentMuster)))]
pub fn current(ctx: &Ctx) -> HandlerResult {
    ok(crate::backfill::current_muster(ctx.db())?)
}

/// Get a muster
///
/// One muster, open or closed, with its roll.
#[utoipa::path(get, path = "/api/muster/{id}", tag = "muster", params(("id" = String, Path, description = "Muster UUID")),
    responses((status = 200, body = Muster), (status = 404, description = "`NOT_FOUND`: no muster has this id")))]
pub fn get(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    ok(muster_by_id(ctx, &id)?)
}

/// A muster's roll as CSV
///
/// The roll for printing or a spreadsheet: one line per person (type, name, rank, division, organization,
/// checked in at, accounted, accounted at, method), missing people first.
#[utoipa::path(get, path = "/api/muster/{id}/roll.csv", tag = "muster", params(("id" = String, Path, description = "Muster UUID")),
    responses((status = 200, content_type = "text/csv", body = String, description = "RFC 4180 CSV with a header line"),
              (status = 404, description = "`NOT_FOUND`: no muster has this id")))]
pub fn roll_csv(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let muster = muster_by_id(ctx, &id)?;
    let mut csv = String::from("type,name,rank,division,organization,checked_in_at,accounted,accounted_at,accounted_method\r\n");
    for p in muster["people"].as_array().into_iter().flatten() {
        let fields = ["type", "name", "rank", "division", "organization", "checkedInAt", "accounted", "accountedAt", "accountedMethod"]
            .map(|f| csv_field(&p[f]));
        csv.push_str(&fields.join(","));
        csv.push_str("\r\n");
    }
    Ok(Reply::Text(StatusCode::OK, "text/csv; charset=utf-8", csv))
}

/// One CSV field: quoted when it holds a comma, quote or line break; spreadsheet formulas neutralised.
fn csv_field(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // A leading =, +, - or @ would run as a formula in a spreadsheet.
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text };
    if text.contains([',', '"', '\r', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// Account for a person
///
/// Marks a person on the open muster's roll as accounted for at the muster point (idempotent: the first
/// time stays). Pushes `muster:update` (`accounted`).
#[utoipa::path(post, path = "/api/muster/{id}/account/{personId}", tag = "muster",
    params(("id" = String, Path, description = "Muster UUID"), ("personId" = String, Path, description = "Member or visitor UUID")),
    responses((status = 200, body = AccountedPerson),
              (status = 404, description = "`NOT_FOUND`: no muster has this id, or the person is not on its roll"),
              (status = 409, description = "`MUSTER_CLOSED`: the muster is closed")))]
pub fn account(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let person_id = ctx.uuid_param("personId")?;
    match run(ctx, &MusterAccount { id: id.clone(), person_id, actor: Actor::of(ctx) })? {
        MusterAccountOutcome::Ok { person, .. } => ok(json!({ "person": person })),
        MusterAccountOutcome::NotFound => Err(not_found(&id)),
        MusterAccountOutcome::MusterClosed => Err(ApiError::new(StatusCode::CONFLICT, "MUSTER_CLOSED", "The muster is closed")),
        MusterAccountOutcome::PersonNotFound { person_id } => Err(ApiError::not_found(format!("Person '{person_id}' is not on this muster's roll"))),
    }
}

/// Close a muster
///
/// Ends the roll call (closing a closed muster changes nothing); whoever is still missing stays on record.
/// Pushes `muster:update` (`closed`).
#[utoipa::path(post, path = "/api/muster/{id}/close", tag = "muster", params(("id" = String, Path, description = "Muster UUID")),
    responses((status = 200, body = Muster), (status = 404, description = "`NOT_FOUND`: no muster has this id")))]
pub fn close(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    match run(ctx, &MusterClose { id: id.clone(), actor: Actor::of(ctx) })? {
        MusterOutcome::Ok { muster, .. } => ok(muster),
        MusterOutcome::NotFound => Err(not_found(&id)),
        MusterOutcome::MusterInProgress { .. } => Err(ApiError::internal("muster_close answered MUSTER_IN_PROGRESS")),
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;
    use serde_json::json;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field(&json!("Smith, J")), "\"Smith, J\"");
        assert_eq!(csv_field(&json!("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(&json!("=HYPERLINK(1)")), "'=HYPERLINK(1)");
        assert_eq!(csv_field(&json!(null)), "");
        assert_eq!(csv_field(&json!(true)), "true");
    }
}
