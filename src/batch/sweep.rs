//! Sweeps: configs times the Cartesian product of `--sweep KEY=V1,V2` lists, each point named
//! after its swept values, and `--index` to pick one (for job arrays).

use std::path::PathBuf;

use invlab_core::config::{sanitize_run_name, ConfigError, RunConfig};

/// One run to do: a config file with its overrides.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub config: PathBuf,
    pub overrides: Vec<String>,
}

/// Expands configs x the Cartesian product of `--sweep KEY=V1,V2` lists (last key fastest).
/// Each point gets a `name` suffix naming its swept values, so run directories tell them apart.
pub(crate) fn sweep_points(
    configs: &[PathBuf],
    overrides: &[String],
    sweeps: &[String],
) -> Result<Vec<Point>, ConfigError> {
    let mut axes: Vec<(String, Vec<String>)> = Vec::new();
    for s in sweeps {
        let (key, values) = s.split_once('=').ok_or_else(|| ConfigError {
            source: format!("--sweep {s}"),
            message: "expected KEY=V1,V2,... e.g. seed=0,1,2".into(),
        })?;
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(ConfigError {
                source: format!("--sweep {s}"),
                message: "no values to sweep over".into(),
            });
        }
        axes.push((key.trim().to_string(), values));
    }
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (key, values) in &axes {
        combos = combos
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push((key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    let mut points = Vec::new();
    for config in configs {
        for combo in &combos {
            let mut all = overrides.to_vec();
            all.extend(combo.iter().map(|(k, v)| format!("{k}={v}")));
            if !combo.is_empty() {
                let base = RunConfig::load(config, overrides)?.name;
                let suffix: Vec<String> = combo
                    .iter()
                    .map(|(k, v)| {
                        let key = k.rsplit('.').next().unwrap_or(k);
                        sanitize_run_name(&format!("{key}{v}"))
                    })
                    .collect();
                all.push(format!("name=\"{base}-{}\"", suffix.join("-")));
            }
            points.push(Point {
                config: config.clone(),
                overrides: all,
            });
        }
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_form_a_named_product() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(&cfg, "name = \"exp\"\n").unwrap();
        let points = sweep_points(
            std::slice::from_ref(&cfg),
            &["train.epochs=1".into(), "train.decay_epochs=[0, 1]".into()],
            &["seed=0,1".into(), "method.rule=none,drs".into()],
        )
        .unwrap();
        assert_eq!(points.len(), 4);
        assert_eq!(
            points[1].overrides,
            vec![
                "train.epochs=1",
                "train.decay_epochs=[0, 1]",
                "seed=0",
                "method.rule=drs",
                "name=\"exp-seed0-ruledrs\""
            ]
        );
        let c = RunConfig::load(&cfg, &points[3].overrides).unwrap();
        assert_eq!(c.name, "exp-seed1-ruledrs");
        assert_eq!(c.seed, 1);
        assert!(sweep_points(std::slice::from_ref(&cfg), &[], &["seed".into()]).is_err());
        // Swept values that cannot appear in a directory name are replaced.
        let points = sweep_points(&[cfg], &[], &["data.root=/data/k 49".into()]).unwrap();
        assert!(points[0]
            .overrides
            .contains(&"name=\"exp-root_data_k_49\"".to_string()));
    }
}
