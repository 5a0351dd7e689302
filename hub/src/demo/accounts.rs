//! Who the demo's accounts are: services with client secrets, and the people who sign in to
//! the console with passwords.

use causeway_policies::Role;

/// Who a demo client is.
pub(super) struct ClientOfDemo {
    pub(super) id: &'static str,
    pub(super) department: &'static str,
    pub(super) roles: &'static [Role],
    pub(super) attributes: &'static [(&'static str, &'static str)],
    pub(super) about: &'static str,
    /// A person's name: the account signs in to the console with a password.
    pub(super) person: Option<&'static str>,
}

pub(super) const DEMO_CLIENTS: [ClientOfDemo; 15] = [
    ClientOfDemo {
        id: "demo-analyst",
        department: "civil_affairs",
        roles: &[Role::Analyst],
        attributes: &[("town", "Guicheng")],
        about: "housing subsidy reviewer, civil affairs",
        person: None,
    },
    ClientOfDemo {
        id: "demo-grid-worker",
        department: "civil_affairs",
        roles: &[Role::Analyst],
        attributes: &[("grid_id", "GC-001")],
        about: "grid worker of grid GC-001",
        person: None,
    },
    ClientOfDemo {
        id: "demo-planner",
        department: "urban_planning",
        roles: &[Role::Analyst],
        attributes: &[],
        about: "urban planner (pseudonymous joins)",
        person: None,
    },
    ClientOfDemo {
        id: "demo-land-publisher",
        department: "land_registry",
        roles: &[Role::Publisher],
        attributes: &[],
        about: "publisher, land registry",
        person: None,
    },
    ClientOfDemo {
        id: "demo-market-publisher",
        department: "market_supervision",
        roles: &[Role::Publisher],
        attributes: &[],
        about: "publisher, market supervision",
        person: None,
    },
    ClientOfDemo {
        id: "demo-social-publisher",
        department: "social_security",
        roles: &[Role::Publisher],
        attributes: &[],
        about: "publisher, social security",
        person: None,
    },
    // The three administrators, each an account of its own (separation of duties).
    ClientOfDemo {
        id: "demo-security",
        department: "security",
        roles: &[Role::SecurityAdmin],
        attributes: &[],
        about: "security administrator: grants, decisions",
        person: None,
    },
    ClientOfDemo {
        id: "demo-sysadmin",
        department: "it",
        roles: &[Role::SystemAdmin],
        attributes: &[],
        about: "system administrator: clients, keys",
        person: None,
    },
    ClientOfDemo {
        id: "demo-auditor",
        department: "audit",
        roles: &[Role::Auditor],
        attributes: &[],
        about: "auditor: reads, verifies the audit log",
        person: None,
    },
    // A person, who signs in to the web console with a password rather than a secret.
    ClientOfDemo {
        id: "demo-reviewer",
        department: "civil_affairs",
        roles: &[Role::Analyst],
        attributes: &[("town", "Guicheng")],
        about: "Wang Fang, a person: signs in to /console",
        person: Some("Wang Fang"),
    },
    ClientOfDemo {
        id: "demo-grid-person",
        department: "civil_affairs",
        roles: &[Role::Analyst],
        attributes: &[("grid_id", "GC-001")],
        about: "Zhou Min, grid worker of GC-001: /console/grid",
        person: Some("Zhou Min"),
    },
    ClientOfDemo {
        id: "demo-civil-publisher",
        department: "civil_affairs",
        roles: &[Role::Publisher],
        attributes: &[],
        about: "Li Na, publisher of civil affairs: decides requests for its data in /console",
        person: Some("Li Na"),
    },
    ClientOfDemo {
        id: "demo-officer",
        department: "security",
        roles: &[Role::SecurityAdmin],
        attributes: &[],
        about: "Zhao Lei, security officer: /console/supervision",
        person: Some("Zhao Lei"),
    },
    ClientOfDemo {
        id: "demo-inspector",
        department: "audit",
        roles: &[Role::Auditor],
        attributes: &[],
        about: "Qian Hui, auditor: verifies the log in /console",
        person: Some("Qian Hui"),
    },
    ClientOfDemo {
        id: "demo-admin",
        department: "it",
        roles: &[Role::SystemAdmin],
        attributes: &[],
        about: "Sun Li, system administrator: /console/accounts",
        person: Some("Sun Li"),
    },
];
