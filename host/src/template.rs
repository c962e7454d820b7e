//! `{{ name }}` templates used by component variables and `allowed_outbound_hosts`
//! (Spin's expression syntax: literal text with `{{ expr }}` parts, whitespace inside braces trimmed).

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    Variable(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid variable template: {}", self.0)
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after_open) = rest.strip_prefix("{{") {
                let Some((expr, after_close)) = after_open.split_once("}}") else {
                    return Err(TemplateError("unmatched '{{' in template".to_string()));
                };
                parts.push(Part::Variable(expr.trim().to_string()));
                rest = after_close;
            } else {
                let end = rest.find("{{").unwrap_or(rest.len());
                parts.push(Part::Literal(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        Ok(Self { parts })
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Variable(v) => Some(v.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Renders the template, resolving each variable with `resolve` (first error wins).
    pub fn render<E>(&self, mut resolve: impl FnMut(&str) -> Result<String, E>) -> Result<String, E> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(name) => out.push_str(&resolve(name)?),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literals_and_variables() {
        let t = Template::parse("a-{{ x }}-b{{y}}").unwrap();
        assert_eq!(
            t.parts(),
            &[
                Part::Literal("a-".into()),
                Part::Variable("x".into()),
                Part::Literal("-b".into()),
                Part::Variable("y".into())
            ]
        );
        assert!(Template::parse("").unwrap().parts().is_empty());
        assert!(Template::parse("plain").unwrap().is_literal());
        // A lone `}}` is literal text.
        assert!(Template::parse("a }} b").unwrap().is_literal());
    }

    #[test]
    fn unmatched_braces_fail() {
        let err = Template::parse("{{ ok }} {{ broken").unwrap_err();
        assert_eq!(err.to_string(), "invalid variable template: unmatched '{{' in template");
    }

    #[test]
    fn renders_with_resolver() {
        let t = Template::parse("postgres://{{ host }}").unwrap();
        let out: Result<String, ()> = t.render(|n| Ok(format!("<{n}>")));
        assert_eq!(out.unwrap(), "postgres://<host>");
    }
}
