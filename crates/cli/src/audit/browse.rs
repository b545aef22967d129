//! `warden audit show | tail | search`: entries decrypted, filtered, printed one
//! per line (or as JSON lines with --json).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use warden_audit::AuditReader;
use warden_audit::export::{entry_json, rfc3339_ms};
use warden_audit::record::{Content, Entry};
use warden_types::{ActionKind, Decision};

pub const FILTER_HELP: &str = "\
Filters combine (all must hold):
  --agent NAME      the agent's name or id        --decision allow|deny|ask
  --session ID      the agent session             --origin hook:claude-code|mcp|sandbox|...
  --since TIME      RFC 3339 (2026-11-30T08:00:00Z), a date (2026-11-30), or an
  --until TIME      age such as 90m, 2h, 7d (that long ago)

Examples:
  warden audit show --decision deny --since 1d
  warden audit tail -n 50 --agent claude-code --follow
  warden audit search 'git push' --json | jq .verdict.reason";

/// Entry filters shared by show, tail and search.
#[derive(Debug, Args, Default)]
pub struct Filters {
    /// Only this agent (name or id).
    #[arg(long, value_name = "NAME")]
    agent: Option<String>,
    /// Only this session.
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// Only this final decision.
    #[arg(long, value_name = "DECISION", value_parser = parse_decision)]
    decision: Option<Decision>,
    /// Only actions from this interceptor.
    #[arg(long, value_name = "ORIGIN")]
    origin: Option<String>,
    /// Only entries recorded at or after TIME.
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    since: Option<u64>,
    /// Only entries recorded before TIME.
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    until: Option<u64>,
    /// Print JSON lines (the decrypted record with seq, time and leaf hash).
    #[arg(long)]
    json: bool,
}

/// Arguments of `warden audit show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Entries to show (default: all, with --from/--to).
    seqs: Vec<u64>,
    /// First sequence number.
    #[arg(long, value_name = "SEQ")]
    from: Option<u64>,
    /// Stop before this sequence number.
    #[arg(long, value_name = "SEQ")]
    to: Option<u64>,
    /// At most this many entries.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    #[command(flatten)]
    filters: Filters,
}

/// Arguments of `warden audit tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// How many of the newest entries.
    #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
    lines: usize,
    /// Keep printing new entries as they are recorded (until interrupted).
    #[arg(short, long)]
    follow: bool,
    #[command(flatten)]
    filters: Filters,
}

/// Arguments of `warden audit search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Text to look for in the action and verdict (case-insensitive).
    text: String,
    /// At most this many entries.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    #[command(flatten)]
    filters: Filters,
}

fn parse_decision(s: &str) -> Result<Decision, String> {
    match s.to_ascii_lowercase().as_str() {
        "allow" => Ok(Decision::Allow),
        "deny" => Ok(Decision::Deny),
        "ask" => Ok(Decision::Ask),
        _ => Err(format!("{s:?} is not allow, deny or ask")),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// RFC 3339, a bare date (midnight UTC), or an age like `2h` (that long ago).
pub fn parse_time_arg(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if let Ok(d) = humantime::parse_duration(t) {
        return Ok(now_ms().saturating_sub(d.as_millis() as u64));
    }
    let text = if t.len() == 10 && t.as_bytes().get(4) == Some(&b'-') {
        format!("{t}T00:00:00Z")
    } else {
        t.to_string()
    };
    humantime::parse_rfc3339_weak(&text)
        .map_err(|e| format!("{s:?}: expected RFC 3339 time, a date, or an age like 2h ({e})"))
        .and_then(|st| {
            st.duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .map_err(|_| format!("{s:?} is before 1970"))
        })
}

impl Filters {
    fn check(&self) -> Result<()> {
        if let (Some(a), Some(b)) = (self.since, self.until)
            && a >= b
        {
            bail!("--since is not before --until: nothing can match");
        }
        Ok(())
    }

    /// Filters on the cleartext header only (cheap, before decryption counts).
    fn header_matches(&self, e: &Entry) -> bool {
        self.since.is_none_or(|t| e.time_ms >= t)
            && self.until.is_none_or(|t| e.time_ms < t)
            && self.origin.as_deref().is_none_or(|o| e.origin == o)
    }

    fn matches(&self, e: &Entry) -> bool {
        if !self.header_matches(e) {
            return false;
        }
        let needs_record =
            self.agent.is_some() || self.session.is_some() || self.decision.is_some();
        let Some(r) = e.record() else {
            return !needs_record;
        };
        let a = &r.action;
        self.agent
            .as_deref()
            .is_none_or(|n| a.agent.name == n || a.agent.id == n)
            && self.session.as_deref().is_none_or(|s| a.session == s)
            && self.decision.is_none_or(|d| final_decision(e) == Some(d))
    }
}

fn final_decision(e: &Entry) -> Option<Decision> {
    let v = &e.record()?.verdict;
    Some(v.answered.as_ref().map_or(v.decision, |a| a.decision))
}

fn clip(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', "⏎");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// What the action was, in a few words, on one line.
fn summary(kind: &ActionKind) -> String {
    clip(&kind.summary(), 110)
}

/// One human-readable line per entry.
fn line(e: &Entry) -> String {
    let head = format!("#{:<6} {}  {:<16}", e.seq, rfc3339_ms(e.time_ms), e.origin);
    match &e.content {
        Content::Record(r) => {
            let v = &r.verdict;
            let decision = final_decision(e).unwrap_or(v.decision);
            let agent = if r.action.agent.name.is_empty() {
                "-"
            } else {
                &r.action.agent.name
            };
            let mut s = format!(
                "{head} {:<5} {agent:<12} {}",
                decision.as_str(),
                summary(&r.action.kind)
            );
            if let Some(a) = &v.answered {
                s.push_str(&format!(
                    "  (asked; {} by {} at {})",
                    a.decision, a.by, a.at
                ));
            }
            if !v.reason.is_empty() {
                s.push_str(&format!("  — {}", clip(&v.reason, 120)));
            }
            if !v.rules.is_empty() {
                s.push_str(&format!(" [{}]", v.rules.join(", ")));
            }
            s
        }
        Content::Shredded => format!("{head} (record destroyed by retention)"),
        Content::Unreadable(why) | Content::NoKey(why) => format!("{head} UNREADABLE: {why}"),
        Content::Sealed => format!("{head} (sealed: no key)"),
    }
}

struct Printer {
    out: std::io::BufWriter<std::io::Stdout>,
    json: bool,
    printed: usize,
}

impl Printer {
    fn new(json: bool) -> Printer {
        Printer {
            out: std::io::BufWriter::new(std::io::stdout()),
            json,
            printed: 0,
        }
    }

    /// Prints; `false` once stdout is closed (a pipe into `head`).
    fn print(&mut self, e: &Entry) -> bool {
        let text = if self.json {
            entry_json(e).to_string()
        } else {
            line(e)
        };
        self.printed += 1;
        writeln!(self.out, "{text}").is_ok()
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

fn open(home: &Path) -> Result<(AuditReader, warden_audit::record::Decryptor)> {
    let reader = AuditReader::open(home)?;
    let dec = reader
        .decryptor()
        .context("cannot read the audit keys (entries are encrypted)")?;
    Ok((reader, dec))
}

pub fn show(a: ShowArgs, home: &Path) -> Result<u8> {
    a.filters.check()?;
    let (reader, mut dec) = open(home)?;
    let mut p = Printer::new(a.filters.json);
    let limit = a.limit.unwrap_or(usize::MAX);
    if !a.seqs.is_empty() {
        let size = reader.checkpoint()?.checkpoint.size;
        for &seq in &a.seqs {
            let mut found = false;
            reader.for_each(seq, seq + 1, &mut dec, |e| {
                found = true;
                p.print(&e)
            })?;
            if !found {
                p.flush();
                bail!("entry {seq} does not exist: the log holds {size} entries");
            }
        }
    } else {
        let from = a.from.unwrap_or(0);
        let to = a.to.unwrap_or(u64::MAX);
        reader.for_each(from, to, &mut dec, |e| {
            if !a.filters.matches(&e) {
                return true;
            }
            p.print(&e) && p.printed < limit
        })?;
    }
    p.flush();
    Ok(0)
}

pub fn tail(a: TailArgs, home: &Path) -> Result<u8> {
    a.filters.check()?;
    let (reader, mut dec) = open(home)?;
    let mut newest: Vec<Entry> = Vec::new();
    let mut next = 0u64;
    reader.for_each_back(u64::MAX, &mut dec, |e| {
        next = next.max(e.seq + 1);
        if a.filters.matches(&e) {
            newest.push(e);
        }
        newest.len() < a.lines
    })?;
    let mut p = Printer::new(a.filters.json);
    for e in newest.iter().rev() {
        if !p.print(e) {
            return Ok(0);
        }
    }
    p.flush();
    if !a.follow {
        return Ok(0);
    }
    loop {
        std::thread::sleep(Duration::from_millis(500));
        // A new segment (each UTC midnight) brings a new data key.
        dec = reader.decryptor()?;
        let mut open = true;
        reader.for_each(next, u64::MAX, &mut dec, |e| {
            next = e.seq + 1;
            if a.filters.matches(&e) {
                open = p.print(&e);
            }
            open
        })?;
        p.flush();
        if !open {
            return Ok(0);
        }
    }
}

pub fn search(a: SearchArgs, home: &Path) -> Result<u8> {
    a.filters.check()?;
    if a.text.is_empty() {
        bail!("search needs some text to look for");
    }
    let needle = a.text.to_lowercase();
    let (reader, mut dec) = open(home)?;
    let mut p = Printer::new(a.filters.json);
    let limit = a.limit.unwrap_or(usize::MAX);
    reader.for_each(0, u64::MAX, &mut dec, |e| {
        let hit = a.filters.matches(&e)
            && e.record().is_some_and(|r| {
                serde_json::to_string(r)
                    .map(|t| t.to_lowercase().contains(&needle))
                    .unwrap_or(false)
            });
        if !hit {
            return true;
        }
        p.print(&e) && p.printed < limit
    })?;
    p.flush();
    Ok(0)
}
