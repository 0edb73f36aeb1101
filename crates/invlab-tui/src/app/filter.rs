//! Filtering the run list (`/`): words match the run's name (case-insensitive substring);
//! `key=value` matches a config field (`method.rule=drs`, `seed=3`, `data.transform=bg`), with
//! `key!=value` for the opposite. Terms combine with AND. With a thousand runs from a sweep this
//! is how one finds a cell of the grid.

use std::collections::BTreeMap;

use invlab_core::config::RunConfig;

use super::{App, RunEntry};

/// One condition of a filter.
#[derive(Debug, Clone, PartialEq)]
enum Term {
    Name(String),
    Field {
        key: String,
        value: String,
        equal: bool,
    },
}

/// A parsed filter, with the text it came from (shown in the run list's title).
#[derive(Debug, Clone, PartialEq)]
pub struct RunFilter {
    pub text: String,
    terms: Vec<Term>,
}

impl RunFilter {
    /// Parses the filter text; an unknown config key is an error naming it.
    pub fn parse(text: &str) -> Result<RunFilter, String> {
        let known = RunConfig::default().flat();
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
            let (key, value, equal) = match (word.split_once("!="), word.split_once('=')) {
                (Some((k, v)), _) => (k, v, false),
                (None, Some((k, v))) => (k, v, true),
                (None, None) => {
                    terms.push(Term::Name(word.to_lowercase()));
                    continue;
                }
            };
            if !known.contains_key(key) {
                let near: Vec<&str> = known
                    .keys()
                    .filter(|k| k.ends_with(&format!(".{key}")) || k.contains(key))
                    .map(String::as_str)
                    .take(3)
                    .collect();
                return Err(if near.is_empty() {
                    format!("filter: no config field {key:?}")
                } else {
                    format!(
                        "filter: no config field {key:?}; did you mean {}?",
                        near.join(", ")
                    )
                });
            }
            terms.push(Term::Field {
                key: key.to_string(),
                value: value.trim_matches('"').to_string(),
                equal,
            });
        }
        Ok(RunFilter {
            text: text.trim().to_string(),
            terms,
        })
    }

    pub fn matches(&self, name: &str, config: &BTreeMap<String, String>) -> bool {
        let lower = name.to_lowercase();
        self.terms.iter().all(|t| match t {
            Term::Name(part) => lower.contains(part.as_str()),
            Term::Field { key, value, equal } => {
                (config.get(key).map(String::as_str) == Some(value.as_str())) == *equal
            }
        })
    }

    pub fn matches_run(&self, run: &RunEntry) -> bool {
        self.matches(&run.name, run.flat_config())
    }
}

impl App {
    /// Indices into `runs` of the runs the filter lets through, in order (all without one).
    pub(crate) fn visible_runs(&self) -> Vec<usize> {
        match &self.filter {
            None => (0..self.runs.len()).collect(),
            Some(f) => (0..self.runs.len())
                .filter(|&i| f.matches_run(&self.runs[i]))
                .collect(),
        }
    }

    /// Applies the text typed after `/` (empty: no filter) and keeps the selection visible.
    pub(super) fn set_filter(&mut self, text: &str) {
        if text.trim().is_empty() {
            self.filter = None;
            self.say("filter cleared: every run listed");
            return;
        }
        match RunFilter::parse(text) {
            Ok(f) => {
                self.filter = Some(f);
                let visible = self.visible_runs();
                if !visible.contains(&self.selected) {
                    if let Some(&last) = visible.last() {
                        self.selected = last;
                    }
                }
                self.say(format!(
                    "{} of {} runs match {text:?} (/ then Enter on an empty line clears)",
                    visible.len(),
                    self.runs.len()
                ));
            }
            Err(e) => self.warn(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rule: &str, seed: u64) -> BTreeMap<String, String> {
        let c = RunConfig {
            seed,
            ..RunConfig::default()
        };
        let mut flat = c.flat();
        flat.insert("method.rule".into(), rule.into());
        flat
    }

    #[test]
    fn names_and_fields_combine_with_and() {
        let f = RunFilter::parse("method.rule=drs seed!=2 K49").unwrap();
        assert!(f.matches("k49-bg-drs-seed1", &config("drs", 1)));
        assert!(!f.matches("k49-bg-drs-seed2", &config("drs", 2)), "seed!=2");
        assert!(!f.matches("k49-bg-seed1", &config("none", 1)), "rule");
        assert!(!f.matches("glyphs-seed1", &config("drs", 1)), "name");
        // Quotes are optional; values compare as the config writes them.
        let f = RunFilter::parse("data.transform=\"rot\"").unwrap();
        assert!(f.matches("x", &RunConfig::default().flat()));
        assert!(RunFilter::parse("")
            .unwrap()
            .matches("any", &BTreeMap::new()));
    }

    #[test]
    fn an_unknown_field_is_refused_with_suggestions() {
        let e = RunFilter::parse("rule=drs").unwrap_err();
        assert!(e.contains("no config field \"rule\"; did you mean"), "{e}");
        assert!(e.contains("method.rule"), "{e}");
        assert!(RunFilter::parse("zzz=1")
            .unwrap_err()
            .contains("no config field \"zzz\""));
    }
}
