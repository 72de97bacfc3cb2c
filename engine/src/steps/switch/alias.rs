//! `switch alias` at run time: the alias is added to the new colour's attachment to the
//! network, then removed from the old one's; each is a service update, so Swarm replaces both
//! colours' tasks (start-first). The live colour is the one whose attachment carries the alias.

use std::collections::HashSet;

use async_trait::async_trait;
use bollard::models::{Service, ServiceSpec};
use plans::steps::BlueGreen;
use plans::steps::switch::Alias;

use super::{ColourError, Colours, DRAIN, SwitchBehavior, attachments};
use crate::cluster::Cluster;
use crate::context::StepContext;
use crate::services::{self, ServiceError, spec};
use crate::steps::{Findings, StepError, rolling};
use crate::undo::{BlueGreenUndo, Undo};

#[async_trait]
impl SwitchBehavior for Alias {
    async fn live_colour(
        &self,
        cluster: &dyn Cluster,
        blue: &Service,
        green: &Service,
    ) -> Result<Option<(String, String)>, ColourError> {
        let Alias { network, alias } = self;
        let net = cluster.network(network).await.map_err(ColourError::Cluster)?;
        let net_id = net.map(|n| n.id).unwrap_or_else(|| network.clone());
        let has_alias = |service: &Service| {
            attachments(service).iter().any(|a| {
                (a.target.as_deref() == Some(net_id.as_str()) || a.target.as_deref() == Some(network.as_str()))
                    && a.aliases.iter().flatten().any(|x| x == alias)
            })
        };
        let (b, g) = (services::name_of(blue), services::name_of(green));
        match (has_alias(blue), has_alias(green)) {
            (true, false) => Ok(Some((b, format!("it carries the alias `{alias}`")))),
            (false, true) => Ok(Some((g, format!("it carries the alias `{alias}`")))),
            (true, true) => Err(ColourError::BothCarryAlias { blue: b, green: g, alias: alias.clone() }),
            (false, false) => Ok(None),
        }
    }

    async fn preflight(&self, ctx: &StepContext, colours: &[&Service], _monitor: std::time::Duration) -> Findings {
        let network = &self.network;
        let mut problems = Vec::new();
        match ctx.cluster().network(network).await {
            Ok(Some(net)) => {
                for colour in colours {
                    let targets: HashSet<String> = attachments(colour).into_iter().filter_map(|a| a.target).collect();
                    if !targets.contains(&net.id) && !targets.contains(&net.name) {
                        problems.push(format!(
                            "`{}` is not on the network `{network}` the alias lives on",
                            services::name_of(colour)
                        ));
                    }
                }
            }
            Ok(None) => problems.push(format!("there is no network `{network}`")),
            Err(e) => problems.push(format!("cannot inspect network `{network}`: {e}")),
        }
        Findings { problems, warnings: Vec::new() }
    }

    async fn router(&self, _ctx: &StepContext) -> Result<Option<Service>, ServiceError> {
        Ok(None)
    }

    async fn switch(
        &self,
        ctx: &StepContext,
        step: &BlueGreen,
        colours: &Colours,
        _router: Option<Service>,
        record: &mut BlueGreenUndo,
    ) -> Result<(), StepError> {
        let Alias { network, alias } = self;
        let cluster = ctx.cluster();
        record.switched = true;
        ctx.record(Undo::BlueGreen(Box::new(record.clone()))).await?;
        let net = cluster
            .network(network)
            .await
            .map_err(|error| ServiceError::Cluster { doing: format!("inspect network {network}"), error })?
            .map(|n| n.id)
            .unwrap_or_else(|| network.clone());
        let policy = super::policy(step.deadline, plans::duration::Duration::from_secs(1));
        ctx.progress(format!("moving the alias `{alias}` to {}", colours.idle));
        for (colour, add) in [(&colours.idle, true), (&colours.live, false)] {
            let fresh = services::inspect(cluster, colour).await?;
            let before = fresh.spec.clone().unwrap_or_default();
            let mut next = with_alias(&before, &net, network, alias, add);
            spec::set_update_policy(&mut next, &policy);
            let id = fresh.id.clone().unwrap_or_default();
            rolling::roll_out(ctx, fresh, &next, &before, &policy, &[], &[]).await?;
            services::drained(cluster, &id, DRAIN).await;
        }
        Ok(())
    }

    fn networks(&self) -> Vec<String> {
        vec![self.network.clone()]
    }
}

/// `spec` with `alias` added to (or removed from) its attachment to the network.
fn with_alias(spec: &ServiceSpec, net_id: &str, net_name: &str, alias: &str, add: bool) -> ServiceSpec {
    let mut next = spec.clone();
    for a in next.task_template.iter_mut().flat_map(|t| t.networks.iter_mut().flatten()) {
        let target = a.target.as_deref().unwrap_or_default();
        if target != net_id && target != net_name {
            continue;
        }
        let aliases = a.aliases.get_or_insert_with(Vec::new);
        aliases.retain(|x| x != alias);
        if add {
            aliases.push(alias.to_owned());
        }
    }
    next
}
