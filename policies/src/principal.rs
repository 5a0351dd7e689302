use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Who makes a request: a person or a service of a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The subject: a client id or a user name, unique within its identity provider.
    pub id: String,
    pub department: String,
    pub roles: BTreeSet<Role>,
    /// Facts about the principal that row filters may refer to, e.g. `town` or `grid_id`.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
    /// The identity provider that vouched for the principal (a token's `iss`).
    #[serde(default)]
    pub issuer: String,
    /// The subject of the TLS client certificate the request came with, under mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_subject: Option<String>,
}

impl Principal {
    pub fn new(id: impl Into<String>, department: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            department: department.into(),
            roles: BTreeSet::new(),
            attributes: BTreeMap::new(),
            issuer: String::new(),
            certificate_subject: None,
        }
    }

    pub fn with_role(mut self, role: Role) -> Self {
        self.roles.insert(role);
        self
    }

    pub fn with_attribute(mut self, name: impl Into<String>, value: AttributeValue) -> Self {
        self.attributes.insert(name.into(), value);
        self
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Publishers act for their own department only; admins for every department.
    pub fn may_publish_for(&self, department: &str) -> bool {
        self.has_role(Role::Admin) || (self.has_role(Role::Publisher) && self.department == department)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Publisher,
    Analyst,
    SecurityOfficer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Publisher, Role::Analyst, Role::SecurityOfficer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publisher => "publisher",
            Self::Analyst => "analyst",
            Self::SecurityOfficer => "security_officer",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}': the roles are publisher, analyst, security_officer and admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

/// An attribute's value: one string or a list (a supervisor may cover several towns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    One(String),
    Many(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishers_act_for_their_own_department_only() {
        let publisher = Principal::new("cad-steward", "civil_affairs").with_role(Role::Publisher);
        assert!(publisher.may_publish_for("civil_affairs"));
        assert!(!publisher.may_publish_for("land_registry"));
        let analyst = Principal::new("analyst", "civil_affairs").with_role(Role::Analyst);
        assert!(!analyst.may_publish_for("civil_affairs"));
        let admin = Principal::new("root", "it").with_role(Role::Admin);
        assert!(admin.may_publish_for("land_registry"));
    }

    #[test]
    fn roles_parse_from_their_names() {
        assert_eq!("security_officer".parse::<Role>(), Ok(Role::SecurityOfficer));
        assert!("superuser".parse::<Role>().is_err());
    }
}
