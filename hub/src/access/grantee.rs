//! Whom a grant may be made to: checks of a direct grant's subject before it is stored.

use causeway_policies::{DatasetInfo, DenyRule, GrantKind, Principal, Subject};

use super::{Access, AccessError};
use causeway_policies::Grant;

impl Access {
    /// Refuses grants that separation of duties keeps apart: to an administrative role or
    /// account (which reads no data, so a grant would only wait for a change of roles), or
    /// to the official who makes it.
    pub(super) async fn check_grantee(&self, subject: &Subject, by: &Principal) -> Result<(), AccessError> {
        let refuse = |why: String| Err(AccessError::Forbidden(format!("{why} (separation of duties)")));
        match subject {
            Subject::Role { role, .. } if role.is_administrative() => refuse(format!(
                "no grant is made to the {role} role: administrative accounts read no data"
            )),
            Subject::Client { client } if *client == by.id => {
                refuse("no one grants access to themselves".into())
            }
            Subject::Client { client } => match self.store.client(client).await? {
                Some(account) if account.roles.iter().any(|role| role.is_administrative()) => refuse(
                    format!("{client} is an administrative account, which reads no data"),
                ),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Refuses a grant that a deny rule makes useless to everyone it is made for, as a
    /// request for it is refused when filed: one on a dataset a rule keeps from them whole,
    /// and a verify grant matching on a column a rule keeps from them (a verify call is
    /// refused whole then). A read grant naming such a column is left to work for its other
    /// columns: deny rules win over grants column by column.
    pub(super) async fn check_not_denied(
        &self,
        grant: &Grant,
        dataset: &DatasetInfo,
    ) -> Result<(), AccessError> {
        let subject = self.everyone_in(&grant.subject).await?;
        let columns: &[String] = match grant.kind {
            GrantKind::Verify => &grant.columns,
            GrantKind::Read => &[],
        };
        match causeway_policies::denied_request(&subject, dataset, columns, &self.snapshot()) {
            Some((rule, column)) => Err(AccessError::Forbidden(format!(
                "{}; the grant could never be used",
                never_shown(dataset, rule, column.as_deref(), "them")
            ))),
            None => Ok(()),
        }
    }

    /// A principal that the rules applying to each of `subject`'s members apply to, and no
    /// other rule: the stored account of a client (its roles and attributes), else one of the
    /// department with the role, if any, and nothing more.
    async fn everyone_in(&self, subject: &Subject) -> Result<Principal, AccessError> {
        Ok(match subject {
            Subject::Client { client } => match self.store.client(client).await? {
                Some(account) => {
                    let mut principal = Principal::new(account.id, account.department);
                    principal.roles = account.roles;
                    principal.attributes = account.attributes;
                    principal
                }
                // A person of an external identity provider: only rules for everyone, or
                // for them by name, are known to apply.
                None => Principal::new(client.clone(), String::new()),
            },
            Subject::Role { department, role } => Principal::new("", department.clone()).with_role(*role),
            Subject::Department { department } => Principal::new("", department.clone()),
        })
    }
}

/// That `rule` keeps `column` of `dataset` (the whole dataset when `None`) from `whom`.
pub(super) fn never_shown(
    dataset: &DatasetInfo,
    rule: &DenyRule,
    column: Option<&str>,
    whom: &str,
) -> String {
    let kept = column.map_or_else(
        || dataset.id.to_string(),
        |column| format!("column {column} of {}", dataset.id),
    );
    format!(
        "{kept} is never shown to {whom}: {} (deny rule {})",
        rule.reason, rule.id
    )
}
