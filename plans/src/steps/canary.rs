//! `canary`: run the new image on a few replicas, judge each stage, then promote.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::StepProblem;
use crate::percentage::Percentage;
use crate::span::Span;
use crate::spanned::Spanned;
use crate::steps::compose::FromCompose;
use crate::steps::pause::Wait;
use crate::steps::update::UpdatePolicy;
use crate::steps::{Definition, Resource};

/// A canary release of one service.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Canary {
    /// The stable service, by its full name.
    pub service: Spanned<String>,
    /// The new image.
    pub image: Spanned<String>,
    /// The service's total replica count, if the plan states it.
    pub replicas: Option<Spanned<u64>>,
    /// Stages, each with more of the new release.
    pub stages: Vec<Stage>,
    /// How promotion after the last stage is approved.
    pub promote: Promote,
    /// How the stable service is updated on promotion.
    pub update: UpdatePolicy,
    /// Gates judged after promotion.
    pub gates: Vec<Spanned<String>>,
    /// Where the service is defined, when a compose file defines it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose: Option<FromCompose>,
}

/// One canary stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Stage {
    /// How much of the new release runs in this stage.
    pub weight: Weight,
    /// Wait before judging the gates.
    pub pause: Option<Wait>,
    /// Gates that must pass before the next stage.
    pub gates: Vec<Spanned<String>>,
    /// Where the stage's weight was written.
    #[serde(skip)]
    #[schemars(skip)]
    pub span: Span,
}

/// How much of a canary runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Weight {
    /// This many canary replicas.
    Replicas(u64),
    /// This share of the traffic (by replica count behind round-robin DNS).
    Traffic(Percentage),
}

/// How a canary is promoted after its last stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Promote {
    /// At once, when the last stage passes.
    #[default]
    Auto,
    /// After a person approves.
    Manual,
}

impl Definition for Canary {
    const KEYWORD: &'static str = "canary";
    const ARGUMENTS: usize = 1;
    const DEFAULTS: bool = true;
    const DEPLOYS: bool = true;
    const CHANGES_ELSEWHERE: bool = false;

    /// Reads a canary step's settings.
    fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<Canary> {
        let compose = FromCompose::decode(d, fields);
        let service = d.string(fields, "service", compose.is_none());
        let image = d.string(fields, "image", compose.is_none());
        let replicas = d.count(fields, "replicas", false);
        let stage_nodes = d.children(fields, "stage");
        let stages: Vec<Stage> = stage_nodes.iter().filter_map(|n| Stage::decode(d, n)).collect();
        let promote = match d.child(fields, "promote") {
            Some(node) => {
                let f = d.fields(node, "`promote`");
                d.no_more_args(&f, 1);
                let options = [("auto", Promote::Auto), ("manual", Promote::Manual)];
                let promote = d.args(node).first().and_then(|v| d.as_choice("promote", *v, &options));
                d.finish(f);
                promote.map(|p| p.value).unwrap_or_default()
            }
            None => Promote::Auto,
        };
        let update = UpdatePolicy::decode(d, fields);
        let gates = d.gate_names(fields, "gates");
        if stage_nodes.is_empty() && !fields.is_defaults {
            d.push(Diagnostic::new(StepProblem::NoStages { what: fields.what() }, fields.name_span()));
        }
        let (service, image) = FromCompose::or_later(&compose, service, image)?;
        Some(Canary { service, image, replicas, stages, promote, update, gates, compose })
    }

    fn gates(&self) -> Vec<&Spanned<String>> {
        self.gates.iter().chain(self.stages.iter().flat_map(|s| s.gates.iter())).collect()
    }

    fn resources(&self) -> Vec<Resource> {
        vec![Resource::Service(self.service.value.clone())]
    }

    fn asks_a_person(&self) -> bool {
        self.promote == Promote::Manual
    }

    fn image(&self) -> Option<&str> {
        Some(&self.image.value)
    }

    fn replicas_of(&self, service: &str) -> Option<u64> {
        self.replicas.as_ref().filter(|_| self.service.value == service).map(|r| r.value)
    }

    fn allow_removing_mut(&mut self) -> Option<&mut Vec<crate::steps::allow_removing::Removable>> {
        None
    }
}

impl Stage {
    fn decode(d: &mut Decoder<'_>, node: &crate::kdl_fast::Node) -> Option<Stage> {
        let mut f = d.fields(node, "this canary stage");
        d.no_more_args(&f, 0);
        let replicas = d.count(&mut f, "replicas", false);
        let traffic = d.value(&mut f, "traffic", false).and_then(|v| d.as_percentage("traffic", v));
        let pause = d.value(&mut f, "pause", false).and_then(|v| Wait::from_value(d, "pause", v));
        let gates = d.gate_names(&mut f, "gates");
        let span = f.name_span();
        // A weight that was written but is invalid has its own error already.
        let weight_written = f.sets("replicas") || f.sets("traffic");
        d.finish(f);
        let weight = match (replicas, traffic) {
            (Some(r), None) => Some((Weight::Replicas(r.value), r.span)),
            (None, Some(t)) => Some((Weight::Traffic(t.value), t.span)),
            (Some(r), Some(t)) => {
                d.push(Diagnostic::new(StepProblem::TwoWeights { first: r.span }, t.span));
                None
            }
            (None, None) if weight_written => None,
            (None, None) => {
                d.push(Diagnostic::new(StepProblem::NoWeight, span));
                None
            }
        };
        let (weight, span) = weight?;
        Some(Stage { weight, pause, gates, span })
    }
}
