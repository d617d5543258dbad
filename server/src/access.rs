//! What a caller may do: the rules of the three roles, and the
//! team that owns a cluster, which is its `team` label.
//!
//! Every lookup of a cluster or node pool named in a path goes through
//! [`Caller::check_cluster`] (in `cluster::find`), so no operation can reach
//! another team's cluster by forgetting a check; lists add
//! [`Caller::scope`] to their SQL, so `total` counts only what the caller
//! may see. A node pool belongs to its cluster's team.

use hyperfleet_api::{Error, FieldError, Labels};
use sea_orm::{ColumnTrait, Condition};

use crate::auth::{Caller, Role};
use crate::db::entities::cluster;
use crate::db::filter;
use crate::error::ServiceError;
use crate::resource::row::Row;

/// The label that names the team owning a cluster.
pub const TEAM_LABEL: &str = "team";

/// Which clusters a caller may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    All,
    /// Those whose `team` label is one of these.
    Teams(&'a [String]),
}

impl Scope<'_> {
    /// The SQL condition that keeps, of rows whose `cluster_id` column
    /// names their cluster, those in scope; `None` when all are.
    pub fn condition<C: ColumnTrait>(self, cluster_id: C) -> Option<Condition> {
        match self {
            Scope::All => None,
            Scope::Teams(teams) => Some(filter::cluster_label_in(cluster_id, TEAM_LABEL, teams)),
        }
    }
}

impl Caller {
    /// Creating, changing and deleting resources: everyone but adapters.
    pub fn check_write(&self) -> Result<(), ServiceError> {
        match self {
            Caller::Principal(p) if p.role == Role::Adapter => Err(ServiceError::Forbidden(
                "adapter tokens may only read resources and report statuses".to_string(),
            )),
            _ => Ok(()),
        }
    }

    /// Could the caller see a cluster whose `team` label was `team` (`None`:
    /// none, or not known)? Callers who see every cluster could; a member
    /// only one of its teams'. Decides who learns that a deleted cluster
    /// existed.
    pub fn could_see_team(&self, team: Option<&str>) -> bool {
        match self.scope() {
            Scope::All => true,
            Scope::Teams(teams) => team.is_some_and(|team| teams.iter().any(|t| t == team)),
        }
    }

    /// Reading `/metrics`: with authentication on, admins only. The
    /// metrics count every team's clusters by phase and every operation's
    /// traffic, which no member or adapter may see of other teams.
    pub fn check_admin(&self) -> Result<(), ServiceError> {
        match self {
            Caller::Anyone => Ok(()),
            Caller::Principal(p) if p.role == Role::Admin => Ok(()),
            Caller::Principal(_) => Err(ServiceError::Forbidden(
                "metrics cover every team: they need an admin token".to_string(),
            )),
        }
    }

    /// Reading a cluster, changing it, or anything inside it (node pools,
    /// statuses): a member only on its teams' clusters.
    pub fn check_cluster(&self, row: &cluster::Model) -> Result<(), ServiceError> {
        let Scope::Teams(teams) = self.scope() else {
            return Ok(());
        };
        let labels = row.labels()?;
        match labels.get(TEAM_LABEL) {
            Some(team) if teams.contains(team) => Ok(()),
            _ => Err(ServiceError::ClusterForbidden),
        }
    }

    /// Whose `Idempotency-Key`s a create's key is among: the token's
    /// subject, or everyone's when authentication is off.
    pub fn idempotency_scope(&self) -> String {
        match self {
            Caller::Anyone => String::new(),
            Caller::Principal(p) => p.subject.clone(),
        }
    }

    /// Which clusters lists show this caller.
    pub fn scope(&self) -> Scope<'_> {
        match self {
            Caller::Principal(p) if p.role == Role::Member => Scope::Teams(&p.teams),
            _ => Scope::All,
        }
    }

    /// Give a new cluster its team: the caller's when the `team` label is
    /// absent (a caller in several teams must choose; an admin in none
    /// leaves the cluster without a team, visible to admins and adapters
    /// only). A member may only name one of its own teams.
    pub fn assign_team(&self, labels: &mut Labels) -> Result<(), ServiceError> {
        let Caller::Principal(principal) = self else {
            return Ok(());
        };
        match labels.get(TEAM_LABEL) {
            Some(team) => self.check_team(team),
            None => match principal.teams.as_slice() {
                [] => Ok(()),
                [team] => {
                    labels.insert(TEAM_LABEL.to_string(), team.clone());
                    Ok(())
                }
                several => Err(Error::validation(vec![FieldError {
                    field: format!("labels.{TEAM_LABEL}"),
                    message: format!(
                        "you belong to several teams ({}): name the one that owns the cluster",
                        several.join(", ")
                    ),
                }])
                .into()),
            },
        }
    }

    /// A patch may move a cluster only to a team the caller is in, and a
    /// member may not remove the team (the cluster would be lost to it).
    pub fn check_team_change(&self, old: &Labels, new: &Labels) -> Result<(), ServiceError> {
        if old.get(TEAM_LABEL) == new.get(TEAM_LABEL) {
            return Ok(());
        }
        match new.get(TEAM_LABEL) {
            Some(team) => self.check_team(team),
            None if self.scope() == Scope::All => Ok(()),
            None => Err(ServiceError::Forbidden(
                "a member may not remove a cluster's team label".to_string(),
            )),
        }
    }

    fn check_team(&self, team: &str) -> Result<(), ServiceError> {
        match self.scope() {
            Scope::Teams(teams) if !teams.iter().any(|t| t == team) => Err(
                ServiceError::Forbidden(format!("User is not a member of team {team:?}")),
            ),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::auth::Principal;

    fn caller(role: Role, teams: &[&str]) -> Caller {
        Caller::Principal(Arc::new(Principal {
            subject: "someone".into(),
            teams: teams.iter().map(|t| t.to_string()).collect(),
            role,
        }))
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_adapters_may_not_write() {
        assert!(Caller::Anyone.check_write().is_ok());
        assert!(caller(Role::Admin, &[]).check_write().is_ok());
        assert!(caller(Role::Member, &["alpha"]).check_write().is_ok());
        assert!(matches!(
            caller(Role::Adapter, &[]).check_write(),
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[test]
    fn who_could_see_a_team() {
        let alpha = caller(Role::Member, &["alpha"]);
        assert!(alpha.could_see_team(Some("alpha")));
        assert!(!alpha.could_see_team(Some("beta")));
        assert!(!alpha.could_see_team(None));
        for all in [
            Caller::Anyone,
            caller(Role::Admin, &[]),
            caller(Role::Adapter, &[]),
        ] {
            assert!(all.could_see_team(Some("beta")));
            assert!(all.could_see_team(None));
        }
    }

    #[test]
    fn metrics_are_for_admins_when_auth_is_on() {
        assert!(Caller::Anyone.check_admin().is_ok());
        assert!(caller(Role::Admin, &[]).check_admin().is_ok());
        for other in [caller(Role::Member, &["alpha"]), caller(Role::Adapter, &[])] {
            assert!(matches!(
                other.check_admin(),
                Err(ServiceError::Forbidden(_))
            ));
        }
    }

    #[test]
    fn members_see_their_teams_only() {
        assert_eq!(Caller::Anyone.scope(), Scope::All);
        assert_eq!(caller(Role::Admin, &["alpha"]).scope(), Scope::All);
        assert_eq!(caller(Role::Adapter, &[]).scope(), Scope::All);
        let alpha = ["alpha".to_string()];
        assert_eq!(
            caller(Role::Member, &["alpha"]).scope(),
            Scope::Teams(&alpha)
        );
    }

    #[test]
    fn new_clusters_get_the_callers_team() {
        let mut given = labels(&[("env", "prod")]);
        caller(Role::Member, &["alpha"])
            .assign_team(&mut given)
            .expect("defaulted");
        assert_eq!(given, labels(&[("env", "prod"), ("team", "alpha")]));

        let mut none = Labels::new();
        Caller::Anyone.assign_team(&mut none).expect("open");
        caller(Role::Admin, &[])
            .assign_team(&mut none)
            .expect("an admin in no team");
        assert_eq!(none, Labels::new());

        let several = caller(Role::Member, &["alpha", "beta"]);
        match several.assign_team(&mut Labels::new()) {
            Err(ServiceError::Invalid(error)) => assert_eq!(error.details[0].field, "labels.team"),
            other => panic!("{other:?}"),
        }
        several
            .assign_team(&mut labels(&[("team", "beta")]))
            .expect("one of its teams");
        assert!(matches!(
            caller(Role::Member, &["alpha"]).assign_team(&mut labels(&[("team", "beta")])),
            Err(ServiceError::Forbidden(_))
        ));
        caller(Role::Admin, &[])
            .assign_team(&mut labels(&[("team", "beta")]))
            .expect("admins name any team");
    }

    #[test]
    fn team_changes() {
        let alpha = labels(&[("team", "alpha")]);
        let beta = labels(&[("team", "beta")]);
        let member = caller(Role::Member, &["alpha", "gamma"]);
        assert!(member.check_team_change(&alpha, &alpha).is_ok());
        assert!(
            member
                .check_team_change(&alpha, &labels(&[("team", "gamma")]))
                .is_ok()
        );
        assert!(member.check_team_change(&alpha, &beta).is_err());
        assert!(member.check_team_change(&alpha, &Labels::new()).is_err());
        let admin = caller(Role::Admin, &[]);
        assert!(admin.check_team_change(&alpha, &beta).is_ok());
        assert!(admin.check_team_change(&alpha, &Labels::new()).is_ok());
    }
}
