//! `rolling`: replace a service's tasks a few at a time, then judge its gates.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::StepProblem;
use crate::span::Span;
use crate::spanned::Spanned;
use crate::steps::allow_removing::Removable;
use crate::steps::compose::FromCompose;
use crate::steps::update::UpdatePolicy;
use crate::steps::{Definition, Resource};

/// A rolling update of one service to a new image.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Rolling {
    /// The Swarm service, by its full name (`STACK_NAME` when it comes from a compose file).
    pub service: Spanned<String>,
    /// The new image.
    pub image: Spanned<String>,
    /// The replica count to set, if the plan sets one.
    pub replicas: Option<Spanned<u64>>,
    /// Ports the plan publishes.
    pub publish: Vec<Publish>,
    /// How tasks are replaced.
    pub update: UpdatePolicy,
    /// Gates judged once the update has converged.
    pub gates: Vec<Spanned<String>>,
    /// Where the service is defined, when a compose file defines it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose: Option<FromCompose>,
    /// What the step may take from the running service (`publish` replaces its ports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_removing: Vec<Removable>,
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Publish {
    /// The port on the node or ingress.
    pub published: u64,
    /// The port in the container.
    pub target: u64,
    /// `host` binds on each node; `ingress` uses the routing mesh.
    pub mode: PublishMode,
    /// Where it was written.
    #[serde(skip)]
    #[schemars(skip)]
    pub span: Span,
}

/// How a port is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PublishMode {
    /// Through the routing mesh.
    Ingress,
    /// Bound on the node running the task.
    Host,
}

impl Definition for Rolling {
    const KEYWORD: &'static str = "rolling";
    const ARGUMENTS: usize = 1;
    const DEFAULTS: bool = true;
    const DEPLOYS: bool = true;
    const CHANGES_ELSEWHERE: bool = false;

    /// Reads a rolling step's settings.
    fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<Rolling> {
        let compose = FromCompose::decode(d, fields);
        let service = d.string(fields, "service", compose.is_none());
        let image = d.string(fields, "image", compose.is_none());
        let replicas = d.count(fields, "replicas", false);
        let publish = Publish::decode_all(d, fields);
        let update = UpdatePolicy::decode(d, fields);
        let gates = d.gate_names(fields, "gates");
        let allow_removing = crate::steps::allow_removing::decode(d, fields);
        let (service, image) = FromCompose::or_later(&compose, service, image)?;
        Some(Rolling { service, image, replicas, publish, update, gates, compose, allow_removing })
    }

    fn gates(&self) -> Vec<&Spanned<String>> {
        self.gates.iter().collect()
    }

    fn resources(&self) -> Vec<Resource> {
        vec![Resource::Service(self.service.value.clone())]
    }

    fn asks_a_person(&self) -> bool {
        false
    }

    fn image(&self) -> Option<&str> {
        Some(&self.image.value)
    }

    fn replicas_of(&self, service: &str) -> Option<u64> {
        self.replicas.as_ref().filter(|_| self.service.value == service).map(|r| r.value)
    }

    fn allow_removing_mut(&mut self) -> Option<&mut Vec<Removable>> {
        Some(&mut self.allow_removing)
    }
}

impl Publish {
    /// Reads every `publish PORT target=PORT mode=host|ingress` child.
    pub fn decode_all(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Vec<Publish> {
        let nodes = d.children(fields, "publish");
        let mut out = Vec::new();
        for node in nodes {
            let mut f = d.fields(node, "`publish`");
            let args = d.args(node);
            d.no_more_args(&f, 1);
            let published = match args.first() {
                Some((v, span)) if v.as_integer().is_some_and(|p| (1..=65535).contains(&p)) => {
                    Some((v.as_integer().unwrap_or_default() as u64, *span))
                }
                Some((v, span)) => {
                    let found = crate::decoder::type_name(v);
                    d.push(Diagnostic::new(StepProblem::PortNotANumber { found }, *span));
                    None
                }
                None => {
                    d.push(Diagnostic::new(StepProblem::PublishWithoutPort, f.name_span()));
                    None
                }
            };
            let target = d.count(&mut f, "target", false);
            let mode = d.choice(&mut f, "mode", &[("host", PublishMode::Host), ("ingress", PublishMode::Ingress)]);
            d.finish(f);
            if let Some((port, span)) = published {
                out.push(Publish {
                    published: port,
                    target: target.map(|t| t.value).unwrap_or(port),
                    mode: mode.map_or(PublishMode::Ingress, |m| m.value),
                    span,
                });
            }
        }
        out
    }
}
