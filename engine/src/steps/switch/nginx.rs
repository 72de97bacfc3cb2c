//! `switch nginx` at run time: the config is rendered from the template for the new colour,
//! checked with `nginx -t` in a job of the router's image, and the router rolls onto it
//! (`rendered.rs`: what nginx and caddy share).

use async_trait::async_trait;
use bollard::models::Service;
use plans::steps::BlueGreen;
use plans::steps::switch::Nginx;

use super::rendered::{self, Router};
use super::{ColourError, Colours, SwitchBehavior};
use crate::cluster::Cluster;
use crate::context::StepContext;
use crate::services::{self, ServiceError};
use crate::steps::{Findings, StepError};
use crate::undo::{BlueGreenUndo, Undo};

fn how(nginx: &Nginx) -> Router<'_> {
    Router {
        name: &nginx.router,
        template: &nginx.template,
        target: &nginx.target,
        program: "nginx",
        check: vec!["nginx".into(), "-t".into(), "-c".into(), nginx.target.clone()],
    }
}

#[async_trait]
impl SwitchBehavior for Nginx {
    async fn live_colour(
        &self,
        cluster: &dyn Cluster,
        blue: &Service,
        green: &Service,
    ) -> Result<Option<(String, String)>, ColourError> {
        rendered::live_colour(cluster, &self.router, &self.target, blue, green).await
    }

    async fn preflight(&self, ctx: &StepContext, _colours: &[&Service], monitor: std::time::Duration) -> Findings {
        rendered::preflight(ctx, &self.router, &self.template, &self.target, monitor).await.1
    }

    async fn router(&self, ctx: &StepContext) -> Result<Option<Service>, ServiceError> {
        Ok(Some(services::inspect(ctx.cluster(), &self.router).await?))
    }

    async fn switch(
        &self,
        ctx: &StepContext,
        step: &BlueGreen,
        colours: &Colours,
        router: Option<Service>,
        record: &mut BlueGreenUndo,
    ) -> Result<(), StepError> {
        let router = router.unwrap_or_default();
        let config = rendered::render_and_check(ctx, &router, &how(self), &colours.idle, record).await?;
        record.switched = true;
        ctx.record(Undo::BlueGreen(Box::new(record.clone()))).await?;
        ctx.progress(format!("switching {} to {} (config {})", self.router, colours.idle, config.name));
        rendered::roll_onto(ctx, step, &router, &self.target, &config).await
    }

    fn networks(&self) -> Vec<String> {
        Vec::new()
    }
}
