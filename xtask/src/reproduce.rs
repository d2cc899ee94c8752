//! `cargo xtask reproduce`: regenerates every figure and claim of the paper into one folder.
//!
//! Each experiment of [`crate::experiments::ALL`] writes `NAME.csv`, `NAME.png` and `NAME.svg`
//! and returns the claims it checked; `summary.json` collects every claim (name, paper
//! reference, measured, expected, pass) with the settings, and `REPORT.md` embeds the figures
//! and says, claim by claim, what was measured.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::claims::{self, Claim};
use crate::experiments::{self, Experiment};
use crate::flags::Settings;
use crate::report::{self, Section};

/// The experiments `--only` selects (all of them without it), in the order of
/// [`experiments::ALL`].
///
/// # Errors
/// A name that is no experiment's.
pub fn select(only: &[String]) -> Result<Vec<&'static Experiment>> {
    for name in only {
        if experiments::find(name).is_none() {
            let known: Vec<&str> = experiments::ALL.iter().map(|e| e.name).collect();
            bail!("unknown experiment `{name}`; known: {}", known.join(", "));
        }
    }
    Ok(experiments::ALL
        .iter()
        .filter(|e| only.is_empty() || only.iter().any(|o| o == e.name))
        .collect())
}

/// Runs the selected experiments with a progress bar, then writes `summary.json` and
/// `REPORT.md` and prints the claims.
///
/// # Errors
/// Invalid settings, an experiment's failure, I/O, or (with `--check`) a failed claim.
pub fn run(settings: &Settings) -> Result<()> {
    settings.validate()?;
    let selected = select(&settings.only)?;
    let out = settings
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/reproduce"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let bar = ProgressBar::new(selected.len() as u64);
    bar.set_style(ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
    )?);
    let mut sections = Vec::new();
    for experiment in selected {
        let (name, title) = (experiment.name, experiment.title);
        bar.set_message(format!("{name}: {title}"));
        let start = Instant::now();
        let claims =
            (experiment.run)(settings, &out).with_context(|| format!("experiment {name}"))?;
        let line = format!(
            "{name:<11} {:>6.1} s  {title}",
            start.elapsed().as_secs_f64()
        );
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
        sections.push(Section { experiment, claims });
        bar.inc(1);
    }
    bar.finish_and_clear();

    let all: Vec<Claim> = sections.iter().flat_map(|s| s.claims.clone()).collect();
    let summary = serde_json::json!({ "claims": all, "settings": settings });
    let path = out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)?)
        .with_context(|| format!("writing {}", path.display()))?;
    report::write(&out.join("REPORT.md"), settings, &sections)?;
    claims::print_table(&all);
    eprintln!(
        "wrote {}",
        out.canonicalize().unwrap_or(out.clone()).display()
    );
    let failed = all.iter().filter(|c| !c.pass).count();
    if settings.check && failed > 0 {
        bail!("{failed} claim(s) failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_selects_in_registry_order_and_rejects_unknown_names() {
        let all = select(&[]).unwrap();
        assert_eq!(all.len(), experiments::ALL.len());
        let two = select(&["ode".into(), "fig1".into()]).unwrap();
        let names: Vec<&str> = two.iter().map(|e| e.name).collect();
        assert_eq!(names, ["fig1", "ode"]);
        let err = select(&["fig9".into()]).unwrap_err().to_string();
        assert!(err.contains("unknown experiment `fig9`") && err.contains("identities"));
    }
}
