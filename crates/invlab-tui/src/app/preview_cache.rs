//! The data pane's pictures: which config they show, a small cache, and a debounced request
//! for a new build when the form's data section changes (built off the UI thread by the
//! runtime; the App only keeps the results).

use std::sync::Arc;

use super::{App, Effect, Pane};
use crate::error::LabError;
use invlab_engine::data_preview::{preview_key, DataPreview};

/// Built previews kept, so flipping back to an earlier setting shows at once.
const CACHED: usize = 6;

#[derive(Debug, Default)]
pub struct PreviewCache {
    /// (key, result), oldest first.
    done: Vec<(String, Result<Arc<DataPreview>, LabError>)>,
    /// The key being built, if any (one build at a time).
    building: Option<String>,
    /// The key seen on the last tick: a build starts once it holds still for a tick.
    settling: Option<String>,
}

/// What the data pane shows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PreviewView<'a> {
    /// Pictures of the form's config.
    Ready(&'a DataPreview),
    /// The form's config is being built (or about to be); pictures of an earlier one meanwhile.
    Building(Option<&'a DataPreview>),
    Failed(&'a LabError),
}

impl PreviewCache {
    fn get(&self, key: &str) -> Option<&Result<Arc<DataPreview>, LabError>> {
        self.done
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r)
    }

    pub(super) fn finished(&mut self, key: String, result: Result<Arc<DataPreview>, LabError>) {
        if self.building.as_deref() == Some(key.as_str()) {
            self.building = None;
        }
        self.done.retain(|(k, _)| *k != key);
        self.done.push((key, result));
        if self.done.len() > CACHED {
            self.done.drain(..1);
        }
    }

    fn latest_ready(&self) -> Option<&DataPreview> {
        self.done
            .iter()
            .rev()
            .find_map(|(_, r)| r.as_ref().ok().map(|p| p.as_ref()))
    }

    pub(crate) fn is_building(&self) -> bool {
        self.building.is_some()
    }
}

impl App {
    /// The data pane's content for the form's current config.
    pub(crate) fn preview_view(&self) -> PreviewView<'_> {
        let key = preview_key(&self.form.config);
        match self.previews.get(&key) {
            Some(Ok(p)) => PreviewView::Ready(p),
            Some(Err(e)) => PreviewView::Failed(e),
            None => PreviewView::Building(self.previews.latest_ready()),
        }
    }

    /// On each tick: while the data pane is shown and the form's data settings have held still
    /// for a tick (debounce), ask for a build of the missing preview.
    pub(super) fn preview_tick(&mut self) -> Vec<Effect> {
        if self.focus != Pane::Data {
            self.previews.settling = None;
            return Vec::new();
        }
        let key = preview_key(&self.form.config);
        if self.previews.get(&key).is_some() || self.previews.building.is_some() {
            return Vec::new();
        }
        if self.previews.settling.as_deref() != Some(key.as_str()) {
            self.previews.settling = Some(key);
            return Vec::new();
        }
        self.previews.settling = None;
        self.previews.building = Some(key.clone());
        vec![Effect::BuildPreview {
            key,
            config: Box::new(self.form.config.clone()),
        }]
    }
}
