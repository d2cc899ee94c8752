//! Figure 3 / Appendix E: the DSM surrogates for several degrees of freedom ν of data and
//! model: the manual flow keeps ν₀ fixed, the Gaussian flow is rebuilt with each ν. Which
//! recover μ* (unimodal on the grid, minimum within 0.5σ of μ*)?

use std::path::Path;

use anyhow::Result;

use super::{Experiment, write_csv};
use crate::claims::{Claim, argmin, is_unimodal};
use crate::flags::Settings;
use crate::plot::{self, BLUE_, GREEN_, ORANGE_, PURPLE_, Panel, RED_, Series};
use crate::student::{Family, Loss, grid};

/// This experiment in the registry of [`super::ALL`].
pub const EXPERIMENT: Experiment = Experiment {
    name: "fig3",
    title: "Figure 3 / Appendix E: the surrogates across degrees of freedom",
    paper_text,
    run,
};

/// What the paper says (the paragraph under the figure in REPORT.md).
fn paper_text(s: &Settings) -> String {
    format!(
        "Appendix E: varying the degrees of freedom of data and model, the manual flow (ν₀ = {} fixed) recovers μ* \
         only at its own DoF, while the Gaussian flow, rebuilt for each ν, recovers μ* for every ν in {:?} (the \
         list is not stated in the paper; ν = 1 is excluded, docs/math.md §6.3).",
        s.nu0, s.dofs
    )
}

/// Runs the experiment.
pub fn run(s: &Settings, out: &Path) -> Result<Vec<Claim>> {
    let mus = grid(s.range, if s.quick { 1.0 } else { 0.25 });
    let colors = [BLUE_, ORANGE_, GREEN_, RED_, PURPLE_];
    let mut rows: Vec<Vec<f64>> = mus.iter().map(|&m| vec![m]).collect();
    let mut header = vec!["mu".to_string()];
    let (mut manual_panel, mut gauss_panel) = (Vec::new(), Vec::new());
    let mut recovered = Vec::new();
    for (k, &nu) in s.dofs.iter().enumerate() {
        let fam = Family {
            nu,
            nu0: s.nu0,
            sigma: 1.0,
        };
        let data = fam.data(s.n, s.seed.wrapping_add(k as u64 + 1))?;
        let manual: Vec<f64> = fam
            .curve(Loss::Manual, &mus, &data)?
            .iter()
            .map(|e| e.value)
            .collect();
        let gauss: Vec<f64> = fam
            .curve(Loss::Gaussian, &mus, &data)?
            .iter()
            .map(|e| e.value)
            .collect();
        let ok = |v: &[f64]| is_unimodal(v) && argmin(v).is_some_and(|i| mus[i].abs() <= 0.5);
        recovered.push((nu, ok(&manual), ok(&gauss)));
        for (r, (a, b)) in rows.iter_mut().zip(manual.iter().zip(&gauss)) {
            r.extend([*a, *b]);
        }
        header.push(format!("manual_nu{nu}"));
        header.push(format!("gaussian_nu{nu}"));
        let c = colors[k % colors.len()];
        manual_panel.push(Series::new(&format!("ν = {nu}"), &mus, &manual, c, 2));
        gauss_panel.push(Series::new(&format!("ν = {nu}"), &mus, &gauss, c, 2));
    }
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    write_csv(&out.join("fig3.csv"), &header_refs, &rows)?;
    let panels = vec![
        Panel {
            title: format!("DSM, manual flow (ν₀ = {} fixed)", s.nu0),
            x_label: "model location μ (units of σ)".into(),
            y_label: "surrogate loss".into(),
            series: manual_panel,
            vlines: vec![(0.0, "μ* = 0".into())],
        },
        Panel {
            title: "DSM, Gaussian flow (matched ν)".into(),
            x_label: "model location μ (units of σ)".into(),
            y_label: "surrogate loss".into(),
            series: gauss_panel,
            vlines: vec![(0.0, "μ* = 0".into())],
        },
    ];
    plot::save(
        &out.join("fig3"),
        "Appendix E: across degrees of freedom",
        &panels,
        1,
    )?;
    let mut claims = Vec::new();
    for &(nu, manual, gauss) in &recovered {
        claims.push(Claim::holds(
            &format!("fig3_gaussian_recovers_nu{nu}"),
            "paper App. E",
            gauss,
            "unimodal, minimum at μ*",
        ));
        let expect_manual = nu == s.nu0;
        claims.push(Claim {
            name: format!("fig3_manual_nu{nu}"),
            paper_ref: "paper App. E (manual works only at ν₀)".into(),
            measured: f64::from(u8::from(manual)),
            expected: if expect_manual {
                "recovers μ* (ν = ν₀)".into()
            } else {
                "fails (ν ≠ ν₀)".into()
            },
            pass: manual == expect_manual,
        });
    }
    Ok(claims)
}
