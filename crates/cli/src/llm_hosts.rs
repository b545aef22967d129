//! The LLM API hosts `warden watch` recognises in connects: a process outside
//! every session that connects to one of their addresses is talking to a
//! model, so it is an agent nobody governs. The observer sees addresses, not
//! names, so the names are resolved here (and again every few minutes, as
//! providers' addresses move).
// Only `warden watch` built with the observer looks addresses up; the
// option is parsed in every build.
#![cfg_attr(not(feature = "ebpf"), allow(dead_code))]

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};

/// The providers' API hosts watched by default.
pub const DEFAULT_LLM_HOSTS: &[&str] = &[
    "api.anthropic.com",
    "api.openai.com",
    "generativelanguage.googleapis.com",
    "api.mistral.ai",
    "api.groq.com",
    "api.deepseek.com",
    "api.x.ai",
    "api.cohere.com",
    "openrouter.ai",
];

/// A host and the port its API is served on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmHost {
    /// The name (or an address literal).
    pub name: String,
    /// The port (443 unless given).
    pub port: u16,
}

/// `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT`; an IPv6 literal without
/// brackets is a host without a port.
pub fn parse_llm_host(s: &str) -> Result<LlmHost, String> {
    let bad_port = |p: &str| format!("{p:?} in {s:?} is not a port number");
    let (name, port) = if let Some(rest) = s.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?} opens a [ it does not close"))?;
        match after {
            "" => (v6, 443),
            _ => {
                let p = after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("{s:?}: expected :PORT after ]"))?;
                (v6, p.parse().map_err(|_| bad_port(p))?)
            }
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, p.parse().map_err(|_| bad_port(p))?),
            _ => (s, 443),
        }
    };
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!("{s:?} is not a host name"));
    }
    if port == 0 {
        return Err(bad_port("0"));
    }
    Ok(LlmHost {
        name: name.to_string(),
        port,
    })
}

/// Addresses (with the port) of the LLM API hosts, to the host's name.
#[derive(Debug, Default, Clone)]
pub struct LlmAddresses(HashMap<(IpAddr, u16), String>);

impl LlmAddresses {
    /// Resolves every host; the hosts that did not resolve, with why.
    pub fn resolve(hosts: &[LlmHost]) -> (LlmAddresses, Vec<(String, String)>) {
        let (mut map, mut failed) = (HashMap::new(), Vec::new());
        for h in hosts {
            match (h.name.as_str(), h.port).to_socket_addrs() {
                Ok(addrs) => {
                    for a in addrs {
                        map.insert((canonical(a.ip()), h.port), h.name.clone());
                    }
                }
                Err(e) => failed.push((h.name.clone(), e.to_string())),
            }
        }
        (LlmAddresses(map), failed)
    }

    /// These addresses, and `before`'s of the hosts named in `failed`.
    pub fn keeping(mut self, before: &LlmAddresses, failed: &[&str]) -> LlmAddresses {
        for (key, name) in &before.0 {
            if failed.contains(&name.as_str()) {
                self.0.entry(*key).or_insert_with(|| name.clone());
            }
        }
        self
    }

    /// The LLM API host at `addr:port`, if it is one.
    pub fn host_of(&self, addr: IpAddr, port: u16) -> Option<&str> {
        self.0.get(&(canonical(addr), port)).map(String::as_str)
    }

    /// How many addresses are known.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// An IPv4 address however it was spelled (`::ffff:a.b.c.d` is what an
/// IPv6 socket connects with to an IPv4 host).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_named_with_an_optional_port() {
        let h = |n: &str, p| LlmHost {
            name: n.into(),
            port: p,
        };
        assert_eq!(
            parse_llm_host("api.openai.com").unwrap(),
            h("api.openai.com", 443)
        );
        assert_eq!(
            parse_llm_host("localhost:8080").unwrap(),
            h("localhost", 8080)
        );
        assert_eq!(parse_llm_host("[::1]:11434").unwrap(), h("::1", 11434));
        assert_eq!(parse_llm_host("[::1]").unwrap(), h("::1", 443));
        assert_eq!(parse_llm_host("fe80::1").unwrap(), h("fe80::1", 443));
        assert!(parse_llm_host("x:http").unwrap_err().contains("not a port"));
        assert!(parse_llm_host("x:0").unwrap_err().contains("not a port"));
        assert!(
            parse_llm_host("[::1")
                .unwrap_err()
                .contains("does not close")
        );
        assert!(parse_llm_host("[::1]x").unwrap_err().contains(":PORT"));
        assert!(parse_llm_host("").unwrap_err().contains("not a host"));
        assert!(parse_llm_host("a b").unwrap_err().contains("not a host"));
    }

    #[test]
    fn addresses_are_found_however_the_connect_spelled_them() {
        let (addrs, failed) = LlmAddresses::resolve(&[
            parse_llm_host("127.0.0.1:8443").unwrap(),
            parse_llm_host("[::1]:8443").unwrap(),
        ]);
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(addrs.len(), 2);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(addrs.host_of(mapped, 8443), Some("127.0.0.1"));
        assert_eq!(addrs.host_of("::1".parse().unwrap(), 8443), Some("::1"));
        assert_eq!(addrs.host_of("127.0.0.1".parse().unwrap(), 443), None);
        let (none, failed) =
            LlmAddresses::resolve(&[parse_llm_host("no-such-host.invalid").unwrap()]);
        assert_eq!(none.len(), 0);
        assert_eq!(failed[0].0, "no-such-host.invalid");
        // A round where a host failed keeps what the last one knew of it,
        // and forgets what it knew of hosts that resolved to something else.
        let kept = none.keeping(&addrs, &["::1"]);
        assert_eq!(kept.host_of("::1".parse().unwrap(), 8443), Some("::1"));
        assert_eq!(kept.host_of("127.0.0.1".parse().unwrap(), 8443), None);
    }
}
