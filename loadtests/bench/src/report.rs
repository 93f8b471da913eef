//! The results as markdown, ready to paste into `loadtests/RESULTS.md`.

use std::fmt::Write as _;

use crate::load::{Measurement, Scenario};

/// A table of every scenario, then the ratios that matter: the router's overhead,
/// (c) against (b), and the cost of the cross-subgraph query, (a) against (c).
pub fn markdown(summary: &str, results: &[(&Scenario, &Measurement)]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{summary}\n");
    let _ = writeln!(
        out,
        "| scenario | requests/s | p50 ms | p95 ms | p99 ms | max ms | requests | errors |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (scenario, measurement) in results {
        #[allow(clippy::as_conversions)] // microseconds far below 2^53
        let max_ms = measurement.latency_us.max() as f64 / 1_000.0;
        let _ = writeln!(
            out,
            "| ({}) {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} |",
            scenario.key,
            scenario.title,
            measurement.requests_per_second(),
            measurement.latency_ms(0.50),
            measurement.latency_ms(0.95),
            measurement.latency_ms(0.99),
            max_ms,
            measurement.requests_ok,
            measurement.errors + measurement.warm_up_errors,
        );
    }
    let find = |key: &str| {
        results
            .iter()
            .find(|(scenario, _)| scenario.key == key)
            .map(|(_, measurement)| *measurement)
    };
    if let (Some(direct), Some(routed)) = (find("b"), find("c")) {
        let _ = writeln!(out, "\nRouter overhead, (c) through the router against (b) the subgraph directly:");
        write_ratio(&mut out, routed, direct);
    }
    if let (Some(cross), Some(single)) = (find("a"), find("c")) {
        let _ = writeln!(out, "\nCross-subgraph cost, (a) three subgraphs against (c) one, both through the router:");
        write_ratio(&mut out, cross, single);
    }
    for (scenario, measurement) in results {
        for sample in &measurement.error_samples {
            let _ = writeln!(out, "\nerror in ({}): {sample}", scenario.key);
        }
    }
    out
}

fn write_ratio(out: &mut String, numerator: &Measurement, denominator: &Measurement) {
    let _ = writeln!(
        out,
        "- throughput ratio {:.2} ({:.0} / {:.0} requests/s)",
        ratio(numerator.requests_per_second(), denominator.requests_per_second()),
        numerator.requests_per_second(),
        denominator.requests_per_second()
    );
    for (name, quantile) in [("p50", 0.50), ("p95", 0.95)] {
        let (top, bottom) = (numerator.latency_ms(quantile), denominator.latency_ms(quantile));
        let _ = writeln!(
            out,
            "- {name} ratio {:.2} ({top:.2} ms / {bottom:.2} ms, +{:.2} ms)",
            ratio(top, bottom),
            top - bottom
        );
    }
}

fn ratio(top: f64, bottom: f64) -> f64 {
    if bottom > 0.0 { top / bottom } else { f64::NAN }
}
