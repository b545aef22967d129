//! Classifier quality on `shared/corpora/commands` (a development sample: the rates
//! are printed, and thresholds guard against regressions).

use warden_policy::shell::analyze_with_home;
use warden_types::Threat;

fn rows(file: &str) -> Vec<serde_json::Value> {
    super::corpus::rows(&format!("commands/{file}"))
}

/// The threat the classifier assigns, with unparseable input counted as flagged
/// (the engine asks about it).
fn judged(cmd: &str) -> (Threat, bool) {
    let a = analyze_with_home(cmd, "/home/dev");
    (a.threat(), a.unparseable().is_some())
}

#[test]
fn corpus_commands_rates() {
    let verbose = std::env::var_os("WARDEN_CORPUS_VERBOSE").is_some();
    let malicious = rows("malicious.jsonl");
    let (mut flagged, mut crit_total, mut crit_denied) = (0, 0, 0);
    for r in &malicious {
        let cmd = r["cmd"].as_str().unwrap();
        let (t, unparsed) = judged(cmd);
        let is_flagged = t > Threat::Benign || unparsed;
        flagged += usize::from(is_flagged);
        if r["label"] == "critical" {
            crit_total += 1;
            crit_denied += usize::from(t == Threat::Critical);
            if verbose && t != Threat::Critical {
                println!("MISSED-CRIT [{}] {t} {cmd:?}", r["category"]);
            }
        } else if verbose && !is_flagged {
            println!("MISSED [{}] {cmd:?}", r["category"]);
        }
    }
    let benign = rows("benign.jsonl");
    let mut benign_flagged = 0;
    for r in &benign {
        let cmd = r["cmd"].as_str().unwrap();
        let (t, unparsed) = judged(cmd);
        if t > Threat::Benign || unparsed {
            benign_flagged += 1;
            if verbose {
                let a = analyze_with_home(cmd, "/home/dev");
                println!(
                    "BENIGN-FLAGGED {t} {cmd:?} {:?} {:?}",
                    a.findings.first().map(|f| &f.why),
                    a.unparseable()
                );
            }
        }
    }
    let ambiguous = rows("ambiguous.jsonl");
    let amb_flagged = ambiguous
        .iter()
        .filter(|r| judged(r["cmd"].as_str().unwrap()).0 > Threat::Benign)
        .count();
    use super::corpus::pct;
    println!(
        "commands: malicious flagged {flagged}/{} ({:.1}%), critical denied {crit_denied}/{crit_total} ({:.1}%), benign flagged {benign_flagged}/{} ({:.1}%), ambiguous flagged by the classifier alone {amb_flagged}/{} ({:.1}%)",
        malicious.len(),
        pct(flagged, malicious.len()),
        pct(crit_denied, crit_total),
        benign.len(),
        pct(benign_flagged, benign.len()),
        ambiguous.len(),
        pct(amb_flagged, ambiguous.len()),
    );
    assert!(
        pct(flagged, malicious.len()) >= 95.0,
        "malicious flagged below 95%"
    );
    assert!(
        pct(crit_denied, crit_total) >= 85.0,
        "critical denied below 85%"
    );
    assert!(
        pct(benign_flagged, benign.len()) <= 3.0,
        "benign flagged above 3%"
    );
}
