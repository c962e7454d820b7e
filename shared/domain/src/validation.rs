//! Validation issues, reported to clients as `{path, message}` pairs.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

impl Issue {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// A non-empty list of validation issues.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Issues(pub Vec<Issue>);

impl Issues {
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![Issue::new(path, message)])
    }
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Issue::new(path, message));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(())` when no issue was collected.
    pub fn into_result(self) -> Result<(), Issues> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_collect_in_order() {
        let mut issues = Issues::default();
        assert_eq!(issues.clone().into_result(), Ok(()));
        issues.push("a", "x");
        issues.push("b", "y");
        assert_eq!(issues.clone().into_result().unwrap_err().0, vec![Issue::new("a", "x"), Issue::new("b", "y")]);
    }
}
