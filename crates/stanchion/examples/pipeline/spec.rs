//! The pipeline file: steps with a shell command, what they depend on, and how urgent they are.

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;
use stanchion::dag::{Dag, ValidationErrors};
use stanchion::queue::Priority;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Pipeline {
    /// Names the state directory and the pipeline's jobs in the store.
    pub(crate) name: String,
    #[serde(rename = "step")]
    pub(crate) steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Step {
    pub(crate) name: String,
    /// Run with `sh -c`.
    pub(crate) command: String,
    #[serde(default)]
    pub(crate) depends_on: Vec<String>,
    /// Among steps ready at the same time, the more urgent start first.
    #[serde(default)]
    pub(crate) priority: Urgency,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Urgency {
    High,
    #[default]
    Normal,
    Low,
}

impl From<Urgency> for Priority {
    fn from(urgency: Urgency) -> Self {
        match urgency {
            Urgency::High => Priority::High,
            Urgency::Normal => Priority::Normal,
            Urgency::Low => Priority::Low,
        }
    }
}

impl Pipeline {
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The steps as a validated DAG, whose node `i` is `steps[i]`; or every problem at once:
    /// duplicate names, unknown dependencies, cycles.
    pub(crate) fn dag(&self) -> Result<Dag, ValidationErrors<std::sync::Arc<str>>> {
        let mut builder = Dag::builder();
        for step in &self.steps {
            builder.add_node(&step.name, step.depends_on.iter().map(String::as_str));
        }
        builder.build()
    }
}
