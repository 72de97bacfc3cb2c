//! `blue-green`: bring up the idle colour on the new image, check it, switch traffic, keep the old colour a while.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decoder::{Decoder, Fields};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::problem::StepProblem;
use crate::duration::Duration;
use crate::spanned::Spanned;
use crate::steps::compose::FromCompose;
use crate::steps::switch::Switch;
use crate::steps::{Definition, Resource};

/// A blue-green release across two services.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct BlueGreen {
    /// The blue colour's service.
    pub blue: Spanned<String>,
    /// The green colour's service.
    pub green: Spanned<String>,
    /// The new image, deployed to the idle colour.
    pub image: Spanned<String>,
    /// How traffic moves from one colour to the other.
    pub switch: Switch,
    /// Gates judged against the idle colour before the switch.
    pub preview_gates: Vec<Spanned<String>>,
    /// Gates judged after the switch.
    pub gates: Vec<Spanned<String>>,
    /// How long the old colour keeps running after the switch, for a fast switch back.
    pub keep_old: Duration,
    /// The idle colour must converge within this time.
    pub deadline: Duration,
    /// Where the image is defined, when a compose file defines it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose: Option<FromCompose>,
}

impl Definition for BlueGreen {
    const KEYWORD: &'static str = "blue-green";
    const ARGUMENTS: usize = 1;
    const DEFAULTS: bool = true;
    const DEPLOYS: bool = true;
    const CHANGES_ELSEWHERE: bool = false;

    /// Reads a blue-green step's settings.
    fn decode(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> Option<BlueGreen> {
        let blue = d.string(fields, "blue", true);
        let green = d.string(fields, "green", true);
        let compose = FromCompose::decode(d, fields);
        let image = d.string(fields, "image", compose.is_none());
        let switch = match d.child(fields, "switch") {
            Some(node) => super::switch::decode(d, node),
            None => {
                if !fields.is_defaults {
                    d.missing(fields, "switch");
                }
                None
            }
        };
        let preview_gates = d.gate_names(fields, "preview-gates");
        let gates = d.gate_names(fields, "gates");
        let keep_old = d.duration(fields, "keep-old").map(|v| v.value).unwrap_or(Duration::from_secs(600));
        let deadline = d.duration(fields, "deadline").map(|v| v.value).unwrap_or(Duration::from_secs(600));
        if let (Some(b), Some(g)) = (&blue, &green)
            && b.value == g.value
        {
            d.push(Diagnostic::new(StepProblem::SameColours { blue: b.span }, g.span));
        }
        Some(BlueGreen {
            blue: blue?,
            green: green?,
            image: FromCompose::or_later(&compose, Some(Spanned::default()), image).map(|(_, i)| i)?,
            switch: switch?,
            preview_gates,
            gates,
            keep_old,
            deadline,
            compose,
        })
    }

    fn gates(&self) -> Vec<&Spanned<String>> {
        self.preview_gates.iter().chain(self.gates.iter()).collect()
    }

    fn resources(&self) -> Vec<Resource> {
        let mut out = vec![Resource::Service(self.blue.value.clone()), Resource::Service(self.green.value.clone())];
        if let Some(router) = self.switch.router() {
            out.push(Resource::Service(router.to_owned()));
        }
        out
    }

    fn asks_a_person(&self) -> bool {
        false
    }

    fn image(&self) -> Option<&str> {
        Some(&self.image.value)
    }

    fn replicas_of(&self, _service: &str) -> Option<u64> {
        None
    }

    fn allow_removing_mut(&mut self) -> Option<&mut Vec<crate::steps::allow_removing::Removable>> {
        None
    }
}
