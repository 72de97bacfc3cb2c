//! `switch alias network=NET alias=NAME`: the alias clients resolve moves from the old colour's
//! attachment to the network to the new colour's.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Definition;
use crate::decoder::{Decoder, Fields};

/// A switch that moves a network alias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alias {
    /// The overlay network.
    pub network: String,
    /// The name clients resolve.
    pub alias: String,
}

impl Definition for Alias {
    const KEYWORD: &'static str = "alias";
    const EXAMPLE: &'static str = "switch alias network=NET alias=NAME";

    fn decode(d: &mut Decoder<'_>, f: &mut Fields<'_>) -> Option<Alias> {
        let network = d.string(f, "network", true);
        let alias = d.string(f, "alias", true);
        network.zip(alias).map(|(n, a)| Alias { network: n.value, alias: a.value })
    }

    fn router(&self) -> Option<&str> {
        None
    }
}
