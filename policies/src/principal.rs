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
    /// When the token it came with was issued (its `iat`), in seconds since the Unix epoch:
    /// a token issued before its client's secret or password last changed is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<u64>,
    /// When its client's secret or password had last changed as the token was issued, in
    /// milliseconds since the Unix epoch (the built-in issuer's `secret_version` claim): a
    /// token of an older secret is refused, to the millisecond rather than `iat`'s second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_version: Option<u64>,
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
            issued_at: None,
            secret_version: None,
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

    /// Publishers act for their own department only.
    pub fn may_publish_for(&self, department: &str) -> bool {
        self.has_role(Role::Publisher) && self.department == department
    }

    /// The administrative role the principal holds, if any (it holds at most one when its
    /// roles pass [`check_separation`]).
    pub fn administrative_role(&self) -> Option<Role> {
        self.roles.iter().copied().find(|role| role.is_administrative())
    }
}

/// The roles of Causeway. `publisher` and `analyst` are a department's work; the three
/// administrative roles divide the hub's administration so that no account both opens
/// access and hides it, after the three administrators of China's graded protection
/// standard (GB/T 22239-2019, 8.1.4.2 and 8.1.10: system, security and audit
/// administrators).
///
/// The names of earlier releases still parse: `admin` is `system_admin` and
/// `security_officer` is `security_admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Publishes and describes its department's datasets; reviews requests for them.
    Publisher,
    /// Queries what grants allow.
    Analyst,
    /// Grants, deny rules, decisions on requests, alerts; manages no accounts.
    #[serde(alias = "security_officer")]
    SecurityAdmin,
    /// Clients, people, keys and configuration; reads no data, grants nothing, reads no
    /// audit record through the API.
    #[serde(alias = "admin")]
    SystemAdmin,
    /// Reads, verifies and exports the audit log; changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Publisher,
        Role::Analyst,
        Role::SecurityAdmin,
        Role::SystemAdmin,
        Role::Auditor,
    ];

    /// The three administrative roles, each held by an account of its own.
    pub const ADMINISTRATIVE: [Role; 3] = [Role::SystemAdmin, Role::SecurityAdmin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publisher => "publisher",
            Self::Analyst => "analyst",
            Self::SecurityAdmin => "security_admin",
            Self::SystemAdmin => "system_admin",
            Self::Auditor => "auditor",
        }
    }

    pub fn is_administrative(self) -> bool {
        Self::ADMINISTRATIVE.contains(&self)
    }

    /// The role an earlier release's name stands for (`admin`, `security_officer`).
    fn legacy(name: &str) -> Option<Role> {
        match name {
            "admin" => Some(Role::SystemAdmin),
            "security_officer" => Some(Role::SecurityAdmin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}': the roles are publisher, analyst, security_admin, system_admin and auditor")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .or_else(|| Role::legacy(text))
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

/// Roles that one account may not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {administrative} role is held by an account of its own, never with {others}: separation of duties"
)]
pub struct RolesConflict {
    pub administrative: Role,
    /// The other roles asked for, comma-separated.
    pub others: String,
}

/// Checks that an administrative role is the only role of its account: a system
/// administrator who could also grant, or a security administrator who could also read the
/// audit log as its auditor, would undo the separation.
pub fn check_separation(roles: &BTreeSet<Role>) -> Result<(), RolesConflict> {
    let Some(administrative) = roles.iter().copied().find(|role| role.is_administrative()) else {
        return Ok(());
    };
    if roles.len() == 1 {
        return Ok(());
    }
    Err(RolesConflict {
        administrative,
        others: role_names(roles.iter().filter(|role| **role != administrative), ", "),
    })
}

/// The names of `roles`, joined by `separator`: `publisher, analyst`.
pub fn role_names<'a>(roles: impl IntoIterator<Item = &'a Role>, separator: &str) -> String {
    roles
        .into_iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(separator)
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
        let admin = Principal::new("root", "it").with_role(Role::SystemAdmin);
        assert!(!admin.may_publish_for("it"), "administrators publish nothing");
    }

    #[test]
    fn roles_parse_from_their_names_and_earlier_names() {
        assert_eq!("security_admin".parse::<Role>(), Ok(Role::SecurityAdmin));
        assert_eq!("security_officer".parse::<Role>(), Ok(Role::SecurityAdmin));
        assert_eq!("admin".parse::<Role>(), Ok(Role::SystemAdmin));
        assert_eq!("auditor".parse::<Role>(), Ok(Role::Auditor));
        assert!("superuser".parse::<Role>().is_err());
        let stored: BTreeSet<Role> = serde_json::from_str(r#"["admin", "security_officer"]"#).unwrap();
        assert_eq!(stored, BTreeSet::from([Role::SystemAdmin, Role::SecurityAdmin]));
        assert_eq!(
            serde_json::to_string(&Role::SystemAdmin).unwrap(),
            r#""system_admin""#
        );
    }

    #[test]
    fn an_administrative_role_is_held_alone() {
        let roles = |list: &[Role]| list.iter().copied().collect::<BTreeSet<Role>>();
        assert!(check_separation(&roles(&[Role::Publisher, Role::Analyst])).is_ok());
        for administrative in Role::ADMINISTRATIVE {
            assert!(check_separation(&roles(&[administrative])).is_ok());
            for other in Role::ALL.into_iter().filter(|role| *role != administrative) {
                let conflict = check_separation(&roles(&[administrative, other]))
                    .expect_err("two roles, one administrative");
                assert!(
                    conflict.to_string().contains("separation of duties"),
                    "{conflict}"
                );
            }
        }
    }
}
