//! Application variables: name rules, component templates and Spin's provider chain
//! (`HostConfig.variables` like `spin up --variable`, then `SPIN_VARIABLE_<NAME>` / `.env`, then the default).

use std::collections::{BTreeMap, HashMap};

use crate::template::{Template, TemplateError};

/// Errors as the guest sees them through `fermyon:spin/variables@2.0.0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VariableError {
    InvalidName(String),
    Undefined(String),
    Provider(String),
    Other(String),
}

impl std::fmt::Display for VariableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidName(m) => write!(f, "invalid variable name: {m}"),
            Self::Undefined(m) => write!(f, "undefined variable: {m}"),
            Self::Provider(m) => write!(f, "provider error: {m}"),
            Self::Other(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for VariableError {}

/// Spin's variable-name rules; the reason texts are Spin's.
pub fn validate_name(name: &str) -> Result<(), VariableError> {
    let reason = if name.is_empty() {
        Some("must not be empty".to_string())
    } else if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        Some(format!(
            "invalid character {bad:?}. Variable names may contain only lower-case letters, numbers, and underscores."
        ))
    } else if !name.as_bytes()[0].is_ascii_lowercase() {
        Some("must start with a lowercase ASCII letter".to_string())
    } else if !name.as_bytes()[name.len() - 1].is_ascii_alphanumeric() {
        Some("must end with a lowercase ASCII letter or digit".to_string())
    } else if name.contains("__") {
        Some("must not contain multiple consecutive underscores".to_string())
    } else {
        None
    };
    match reason {
        Some(reason) => Err(VariableError::InvalidName(format!("{name:?}: {reason}"))),
        None => Ok(()),
    }
}

#[derive(Clone, Debug)]
pub struct AppVariable {
    pub default: Option<String>,
    pub secret: bool,
}

/// Resolves variables for every component of one application.
#[derive(Debug)]
pub struct Resolver {
    app: BTreeMap<String, AppVariable>,
    components: HashMap<String, BTreeMap<String, Template>>,
    /// Highest-priority static provider (`spin up --variable k=v`).
    overrides: HashMap<String, String>,
    /// `.env` in the process working directory, read once (as Spin's env provider does).
    dotenv: HashMap<String, String>,
}

impl Resolver {
    pub fn new(
        app: BTreeMap<String, AppVariable>,
        overrides: HashMap<String, String>,
    ) -> Result<Self, VariableError> {
        for name in app.keys() {
            validate_name(name)?;
        }
        let dotenv = std::fs::read_to_string(".env")
            .map(|text| parse_dotenv(&text))
            .unwrap_or_default();
        Ok(Self { app, components: HashMap::new(), overrides, dotenv })
    }

    /// Registers a component's `[component.x.variables]`; templates must refer to app variables.
    pub fn add_component(
        &mut self,
        component_id: &str,
        variables: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        let mut templates = BTreeMap::new();
        for (key, value) in variables {
            validate_name(key).map_err(|e| e.to_string())?;
            let template = parse_app_template(&self.app, value).map_err(|e| e.to_string())?;
            templates.insert(key.clone(), template);
        }
        self.components.insert(component_id.to_string(), templates);
        Ok(())
    }

    /// Parses a template whose variables must be app variables (used for allowed hosts too).
    pub fn parse_template(&self, text: &str) -> Result<Template, TemplateError> {
        parse_app_template(&self.app, text)
    }

    /// Startup check: every variable without a default must be claimed by some provider.
    pub fn check_required(&self) -> Result<(), String> {
        let missing: Vec<String> = self
            .app
            .iter()
            .filter(|(_, v)| v.default.is_none())
            .filter(|(name, _)| !self.provider_claims(name))
            .map(|(name, _)| format!("Key({name:?})"))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "provider error: no provider resolved required variable(s): [{}]",
                missing.join(", ")
            ))
        }
    }

    fn provider_claims(&self, name: &str) -> bool {
        self.overrides.contains_key(name)
            || std::env::var_os(env_key(name)).is_some()
            || self.dotenv.contains_key(&env_key(name))
    }

    /// `fermyon:spin/variables.get` for one component.
    pub fn get(&self, component_id: &str, name: &str) -> Result<String, VariableError> {
        validate_name(name)?;
        let templates = self.components.get(component_id).ok_or_else(|| {
            VariableError::Undefined(format!("no variable for component {component_id:?}"))
        })?;
        let template = templates.get(name).ok_or_else(|| {
            VariableError::Undefined(format!("no variable for {component_id:?}.{name:?}"))
        })?;
        template.render(|var| self.resolve_app_variable(var))
    }

    /// All of one component's variables, resolved (wasi:config `get-all`).
    pub fn get_all(&self, component_id: &str) -> Result<Vec<(String, String)>, VariableError> {
        let Some(templates) = self.components.get(component_id) else {
            return Ok(Vec::new());
        };
        templates
            .iter()
            .map(|(k, t)| Ok((k.clone(), t.render(|var| self.resolve_app_variable(var))?)))
            .collect()
    }

    /// Resolves every app variable (the snapshot `allowed_outbound_hosts` templates use).
    pub fn resolve_all_app(&self) -> Result<HashMap<String, String>, VariableError> {
        self.app
            .keys()
            .map(|name| Ok((name.clone(), self.resolve_app_variable(name)?)))
            .collect()
    }

    pub fn resolve_app_variable(&self, name: &str) -> Result<String, VariableError> {
        if let Some(value) = self.overrides.get(name) {
            return Ok(value.clone());
        }
        let key = env_key(name);
        match std::env::var(&key) {
            Ok(value) => return Ok(value),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(VariableError::Provider(format!(
                    "environment variable {key:?} is not valid unicode"
                )))
            }
            Err(std::env::VarError::NotPresent) => {}
        }
        if let Some(value) = self.dotenv.get(&key) {
            return Ok(value.clone());
        }
        let variable = self
            .app
            .get(name)
            .ok_or_else(|| VariableError::InvalidName(name.to_string()))?;
        variable.default.clone().ok_or_else(|| {
            VariableError::Provider(format!("no provider resolved required variable {name:?}"))
        })
    }
}

fn parse_app_template(
    app: &BTreeMap<String, AppVariable>,
    text: &str,
) -> Result<Template, TemplateError> {
    let template = Template::parse(text)?;
    for var in template.variables() {
        if !app.contains_key(var) {
            return Err(TemplateError(format!("unknown variable {var:?}")));
        }
    }
    Ok(template)
}

/// `db_url` → `SPIN_VARIABLE_DB_URL`.
pub fn env_key(name: &str) -> String {
    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())
}

/// Minimal `.env` reader: `KEY=VALUE` lines, `#` comments, optional `export `, optional quotes.
fn parse_dotenv(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            .unwrap_or(v);
        out.insert(k.trim().to_string(), v.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> Resolver {
        let mut app = BTreeMap::new();
        app.insert("required_one".into(), AppVariable { default: None, secret: true });
        app.insert("with_default".into(), AppVariable { default: Some("dflt".into()), secret: false });
        let mut overrides = HashMap::new();
        overrides.insert("required_one".into(), "from-cli".into());
        let mut r = Resolver::new(app, overrides).unwrap();
        let mut vars = BTreeMap::new();
        vars.insert("combo".into(), "x-{{ with_default }}-{{required_one}}".into());
        r.add_component("comp", &vars).unwrap();
        r
    }

    #[test]
    fn name_rules() {
        for good in ["a", "abc", "a1b2", "a_1", "a_1_b_3"] {
            validate_name(good).unwrap();
        }
        for bad in ["", "aX", "1bc", "_x", "x.y", "x_", "a__b", "x-y"] {
            validate_name(bad).unwrap_err();
        }
        assert_eq!(
            validate_name("aX").unwrap_err(),
            VariableError::InvalidName(
                "\"aX\": invalid character 'X'. Variable names may contain only lower-case letters, numbers, and underscores.".into()
            )
        );
        assert_eq!(
            validate_name("1a").unwrap_err(),
            VariableError::InvalidName("\"1a\": must start with a lowercase ASCII letter".into())
        );
    }

    #[test]
    fn renders_component_templates() {
        let r = resolver();
        assert_eq!(r.get("comp", "combo").unwrap(), "x-dflt-from-cli");
        assert_eq!(
            r.get("comp", "nope").unwrap_err(),
            VariableError::Undefined("no variable for \"comp\".\"nope\"".into())
        );
    }

    #[test]
    fn unknown_template_variable_fails_at_load() {
        let mut r = resolver();
        let mut vars = BTreeMap::new();
        vars.insert("x".into(), "{{ missing }}".into());
        let err = r.add_component("c2", &vars).unwrap_err();
        assert_eq!(err, "invalid variable template: unknown variable \"missing\"");
    }

    #[test]
    fn required_check_and_provider_error() {
        let mut app = BTreeMap::new();
        app.insert("zz_unset_for_test".into(), AppVariable { default: None, secret: false });
        let r = Resolver::new(app, HashMap::new()).unwrap();
        assert_eq!(
            r.check_required().unwrap_err(),
            "provider error: no provider resolved required variable(s): [Key(\"zz_unset_for_test\")]"
        );
        assert_eq!(
            r.resolve_app_variable("zz_unset_for_test").unwrap_err(),
            VariableError::Provider("no provider resolved required variable \"zz_unset_for_test\"".into())
        );
    }

    #[test]
    fn env_key_and_dotenv() {
        assert_eq!(env_key("db_url"), "SPIN_VARIABLE_DB_URL");
        let m = parse_dotenv("# c\nexport A=1\nB=\"two\"\n");
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two");
    }
}
