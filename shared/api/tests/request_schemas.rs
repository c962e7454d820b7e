//! The documented request schemas against the validators that enforce them: for every request body
//! type, a valid body is mutated field by field (absent, `null`, wrong types, lengths around the
//! documented bounds, UUIDs, instants, codes, unknown fields…), and each variant goes both through the
//! server's parsing (serde + garde, `sentinel_http::input::parse_json`) and through the schema the
//! OpenAPI document gives. A body the document accepts must be accepted by the validators (the
//! document is never looser than the server); a body the validators accept must be accepted by the
//! document, except for the listed rules the handlers add after parsing (where the document is
//! deliberately as strict as the handler).

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use sentinel_api::{alerts, auth, badges, checkins, divisions, enums, kiosks, members, users};

type Parse = fn(&[u8]) -> bool;

fn parses<T: DeserializeOwned + garde::Validate<Context = ()>>(body: &[u8]) -> bool {
    sentinel_http::input::parse_json::<T>(body).is_ok()
}

/// (schema name, server-side parse, a valid body)
fn cases() -> Vec<(&'static str, Parse, Value)> {
    let uuid = "123e4567-e89b-12d3-a456-426614174000";
    vec![
        ("CreateDivision", parses::<divisions::CreateDivision>, json!({"code": "OPS", "name": "Operations"})),
        ("UpdateDivision", parses::<divisions::UpdateDivision>, json!({"name": "Operations", "color": "#aabbcc"})),
        ("LoginRequest", parses::<auth::LoginRequest>, json!({"email": "a@b.co", "password": "secret"})),
        ("RfidLoginRequest", parses::<auth::RfidLoginRequest>, json!({"badgeNumber": "B1"})),
        ("CreateApiKey", parses::<auth::CreateApiKey>, json!({"name": "Hall", "kind": "kiosk", "kioskId": "hall", "expiresInDays": 30})),
        ("CreateUser", parses::<users::CreateUser>, json!({"email": "a.b@unit.ca", "password": "Correct-Horse-9", "role": "admin"})),
        ("UpdateUser", parses::<users::UpdateUser>, json!({"displayName": "A B", "memberId": uuid})),
        ("ResetPassword", parses::<users::ResetPassword>, json!({"newPassword": "Correct-Horse-9"})),
        ("CreateEnumItem", parses::<enums::CreateEnumItem>, json!({"code": "guest", "name": "Guest"})),
        ("UpdateEnumItem", parses::<enums::UpdateEnumItem>, json!({"name": "Guest", "description": null})),
        ("Heartbeat", parses::<kiosks::Heartbeat>, json!({"queueSize": 3, "appVersion": "1.2.3"})),
        (
            "CreateMember",
            parses::<members::CreateMember>,
            json!({"serviceNumber": "A12345", "rank": "S1", "firstName": "Ann", "lastName": "Lee", "divisionId": uuid, "email": "ann@navy.ca"}),
        ),
        ("UpdateMember", parses::<members::UpdateMember>, json!({"status": "leave", "badgeId": null})),
        ("CreateBadge", parses::<badges::CreateBadge>, json!({"serialNumber": " b-100 ", "assignmentType": "member", "assignedToId": uuid})),
        ("UpdateBadge", parses::<badges::UpdateBadge>, json!({"status": "lost"})),
        ("AssignBadge", parses::<badges::AssignBadge>, json!({"assignmentType": "visitor", "assignedToId": uuid})),
        (
            "CreateCheckin",
            parses::<checkins::CreateCheckin>,
            json!({"memberId": uuid, "direction": "In", "kioskId": "hall", "timestamp": "2026-01-02T03:04:05Z"}),
        ),
        ("BulkCheckins", parses::<checkins::BulkCheckins>, json!({"checkins": [{"memberId": uuid, "direction": "out", "kioskId": "hall"}]})),
        ("UpdateCheckin", parses::<checkins::UpdateCheckin>, json!({"direction": "out", "editReason": "typo"})),
        ("ScanRequest", parses::<checkins::ScanRequest>, json!({"serialNumber": "B-1", "timestamp": "2026-01-02"})),
        ("SyncRequest", parses::<checkins::SyncRequest>, json!({"items": [{"serialNumber": "B-1", "timestamp": "2026-01-02T03:04:05+01:00"}]})),
        ("ManualCheckout", parses::<checkins::ManualCheckout>, json!({"reason": "Left without scanning"})),
        (
            "CreateAlert",
            parses::<alerts::CreateAlert>,
            json!({"alertType": "system", "severity": "info", "badgeSerial": null, "kioskId": "hall", "message": "Door open"}),
        ),
        ("AcknowledgeAlert", parses::<alerts::AcknowledgeAlert>, json!({"note": "seen"})),
    ]
}

/// Values tried in every field (besides the field's absence).
fn probes(property: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1),
        json!(1.5),
        json!(730),
        json!(731),
        json!(2147483647u64),
        json!(2147483648u64),
        json!([]),
        json!({}),
        json!({"a": 1}),
    ];
    let texts = [
        "", " ", "a", "A1", "ab", "abc", "in", " OUT ", "sideways", "member", "unassigned", "visitor", "active", "lost", "pending_review",
        "kiosk", "display", "read", "badge", "override", "critical", "system", "developer", "duty_watch", "#a1B2c3", "#12345", "a@b.co",
        "a@b", "a b@c.d", "A12345", " A12345", "A\u{7}2345", "S1", "Lt(N)", "PO 2", "123e4567-e89b-12d3-a456-426614174000",
        "123E4567-E89B-12D3-A456-426614174000", "not-a-uuid", "2026-01-02", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.5-05:00",
        "2026-13-02", "yesterday", "Correct-Horse-9", "short", "  \t", "lower_case_9", "UPPER", "x-y_z",
    ];
    out.extend(texts.iter().map(|t| json!(t)));
    for n in [5, 6, 10, 11, 20, 21, 50, 51, 99, 100, 101, 128, 129, 200, 201, 255, 256, 500, 501, 1000, 1001] {
        out.push(json!("x".repeat(n)));
        out.push(json!(format!("{}@b.co", "y".repeat(n.saturating_sub(5)))));
    }
    if let Some(limit) = property["maxLength"].as_u64() {
        out.push(json!(format!(" {}", "z".repeat(limit as usize - 1))));
    }
    out
}

fn validator(doc: &Value, schema: &str) -> jsonschema::Validator {
    let mut root = doc.clone();
    root["$ref"] = json!(format!("#/components/schemas/{schema}"));
    jsonschema::options().with_draft(jsonschema::Draft::Draft202012).should_validate_formats(true).build(&root).expect("schema compiles")
}

/// Field rules the handlers check after parsing, which the document states as schema constraints
/// (the documented constraint is stricter than serde + garde): (schema, field, rule).
const HANDLER_RULES: &[(&str, &str, &str)] = &[
    ("CreateUser", "password", "the password policy (12–128 characters, mixed case, digit, symbol)"),
    ("ResetPassword", "newPassword", "the password policy"),
    ("CreateApiKey", "scopes", "scopes of the key's kind"),
    ("LoginRequest", "email", "a blank identifier"),
];

#[test]
fn documented_request_schemas_agree_with_the_validators() {
    let doc = sentinel_api::openapi::document();
    let mut looser = BTreeSet::new();
    let mut stricter = BTreeSet::new();
    for (name, parse, valid) in cases() {
        let schema = &doc["components"]["schemas"][name];
        assert!(schema.is_object(), "{name} is not a documented schema");
        let validator = validator(&doc, name);
        // The handlers' "at least one of" rule (PATCH bodies, sign-in's email or username) is the
        // schema's `anyOf`: the server accepts what parses and satisfies it.
        let at_least_one = schema.get("anyOf").map(|any_of| {
            jsonschema::options().with_draft(jsonschema::Draft::Draft202012).build(&json!({ "anyOf": any_of })).expect("anyOf compiles")
        });
        let parse = |body: &[u8]| parse(body) && at_least_one.as_ref().is_none_or(|v| v.is_valid(&serde_json::from_slice::<Value>(body).unwrap()));
        let bytes = |v: &Value| serde_json::to_vec(v).unwrap();
        assert!(parse(&bytes(&valid)), "{name}: the base body is refused by the server: {valid}");
        assert!(validator.is_valid(&valid), "{name}: the base body is refused by the document: {valid}");
        let mut variants: Vec<(String, Value)> = vec![("{} (empty body)".into(), json!({}))];
        let mut unknown = valid.clone();
        unknown["zzUnknown"] = json!(1);
        variants.push(("an unknown field".into(), unknown));
        for (field, property) in schema["properties"].as_object().unwrap() {
            let mut absent = valid.clone();
            absent.as_object_mut().unwrap().remove(field);
            variants.push((format!("{field} absent"), absent));
            let item_schema = if property["items"].is_object() { Some(&property["items"]) } else { None };
            for probe in probes(property) {
                let mut body = valid.clone();
                body[field] = probe.clone();
                variants.push((format!("{field} = {probe}"), body));
                if let (Some(_), Some(base_items)) = (item_schema, valid[field].as_array()) {
                    // Arrays of objects: probe inside the first item's fields too, and the count.
                    if let Some(first) = base_items.first().filter(|f| f.is_object()) {
                        for key in first.as_object().unwrap().keys() {
                            let mut item = first.clone();
                            item[key] = probe.clone();
                            variants.push((format!("{field}[0].{key} = {probe}"), json!({ field.as_str(): [item] })));
                        }
                    }
                }
            }
            if let Some(first) = valid[field].as_array().and_then(|a| a.first()) {
                for n in [0usize, 100, 101] {
                    variants.push((format!("{field} with {n} items"), json!({ field.as_str(): vec![first.clone(); n] })));
                }
            }
        }
        for (what, body) in variants {
            let server = parse(&bytes(&body));
            let documented = validator.is_valid(&body);
            if documented && !server {
                looser.insert(format!("{name}: {what}: the document accepts it, the server refuses it"));
            }
            if server && !documented {
                let field = what.split([' ', '[']).next().unwrap_or_default();
                let excused = HANDLER_RULES.iter().any(|(s, f, _)| *s == name && *f == field);
                if !excused {
                    stricter.insert(format!("{name}: {what}: the server accepts it, the document refuses it"));
                }
            }
        }
    }
    assert!(looser.is_empty() && stricter.is_empty(), "\n{}\n", looser.iter().chain(&stricter).cloned().collect::<Vec<_>>().join("\n"));
}
