//! Separation of duties for accounts: what the system administrator may do to whom through
//! the API, so that managing accounts never hands it another administrator's powers.
//!
//! The three administrative roles (`system_admin`, `security_admin`, `auditor`) are each held
//! by an account of its own ([`causeway_policies::check_separation`]). Through the API the
//! system administrator manages the accounts that do a department's work (publishers and
//! analysts) and its own secret; administrative accounts are made, changed and disabled only
//! on the hub's machine (`causeway client ...`), where the operator is recorded by user id.
//! Otherwise a system administrator could make itself a security administrator, re-key the
//! auditor's account and use it, or disable the auditor.
//!
//! What the system administrator hands out through the API (a new account, another
//! account's new secret, a role added) is used only once a security administrator approves
//! it (`POST /v1/clients/{id}/approve`): the system administrator knows the secret but cannot
//! make it work alone, and the security administrator can make it work but never sees it.
//! Neither alone can make an account that reads data.

use causeway_policies::{Principal, Role};

use crate::store::ClientRecord;

/// A change to an account, asked through the API.
pub enum AccountChange<'a> {
    Create {
        roles: &'a std::collections::BTreeSet<Role>,
    },
    SetRoles {
        account: &'a ClientRecord,
        roles: &'a std::collections::BTreeSet<Role>,
    },
    Disable {
        account: &'a ClientRecord,
    },
    RotateSecret {
        account: &'a ClientRecord,
    },
}

/// Why a change to an account is refused (403 `separation_of_duties`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} (separation of duties)")]
pub struct DutyRefusal(pub String);

const ON_THE_MACHINE: &str =
    "administrative accounts are made and changed only on the hub's machine, with `causeway client`";

/// Checks a change that `by`, a system administrator, asks for.
pub fn check_account_change(by: &Principal, change: &AccountChange<'_>) -> Result<(), DutyRefusal> {
    let administrative = |account: &ClientRecord| account.roles.iter().any(|role| role.is_administrative());
    let refuse = |why: String| Err(DutyRefusal(why));
    match change {
        AccountChange::Create { roles } => {
            if let Some(role) = roles.iter().find(|role| role.is_administrative()) {
                return refuse(format!(
                    "no account with the {role} role is made through the API: {ON_THE_MACHINE}"
                ));
            }
        }
        AccountChange::SetRoles { account, roles } => {
            if account.id == by.id {
                return refuse("no one changes their own roles".into());
            }
            if administrative(account) {
                return refuse(format!(
                    "{} is an administrative account: {ON_THE_MACHINE}",
                    account.id
                ));
            }
            if let Some(role) = roles.iter().find(|role| role.is_administrative()) {
                return refuse(format!(
                    "the {role} role is not given through the API: {ON_THE_MACHINE}"
                ));
            }
        }
        AccountChange::Disable { account } | AccountChange::RotateSecret { account } => {
            // Its own secret a system administrator may rotate, and its own account disable.
            if account.id != by.id && administrative(account) {
                return refuse(format!(
                    "{} is an administrative account: {ON_THE_MACHINE}",
                    account.id
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn account(id: &str, role: Role) -> ClientRecord {
        ClientRecord {
            id: id.into(),
            kind: crate::store::AccountKind::Service,
            name: None,
            department: "it".into(),
            roles: [role].into(),
            attributes: Default::default(),
            secret_hash: String::new(),
            disabled: false,
            created_at: String::new(),
            secret_rotated_at: String::new(),
            approved_by: Some("operator".into()),
            refused: None,
            approved_roles: None,
        }
    }

    #[test]
    fn a_system_administrator_reaches_no_other_administrators_powers() {
        let admin = Principal::new("sys", "it").with_role(Role::SystemAdmin);
        let itself = account("sys", Role::SystemAdmin);
        let auditor = account("aud", Role::Auditor);
        let analyst = account("ana", Role::Analyst);
        let roles = |list: &[Role]| list.iter().copied().collect::<BTreeSet<_>>();
        let security = roles(&[Role::SecurityAdmin]);
        let work = roles(&[Role::Analyst, Role::Publisher]);
        let refused = [
            AccountChange::Create { roles: &security },
            AccountChange::SetRoles {
                account: &itself,
                roles: &work,
            },
            AccountChange::SetRoles {
                account: &analyst,
                roles: &security,
            },
            AccountChange::SetRoles {
                account: &auditor,
                roles: &work,
            },
            AccountChange::Disable { account: &auditor },
            AccountChange::RotateSecret { account: &auditor },
        ];
        for change in &refused {
            assert!(check_account_change(&admin, change).is_err());
        }
        let allowed = [
            AccountChange::Create { roles: &work },
            AccountChange::SetRoles {
                account: &analyst,
                roles: &work,
            },
            AccountChange::Disable { account: &analyst },
            AccountChange::RotateSecret { account: &itself },
        ];
        for change in &allowed {
            assert!(check_account_change(&admin, change).is_ok());
        }
    }
}
