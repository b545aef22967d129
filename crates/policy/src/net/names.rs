//! Host names whose class is known without asking DNS.
//!
//! Some names never reach public DNS, or always answer the same: `localhost` and
//! `*.localhost` are loopback by RFC 6761 (and by glibc and systemd-resolved,
//! whatever DNS says); `metadata.google.internal` and `instance-data` are cloud
//! metadata; single-label names (`metadata`, `redis`) are resolved through the
//! search list into the local domain; `.internal`, `.local`, `.home.arpa` are
//! private by reservation. Wildcard-DNS services (`127.0.0.1.nip.io`,
//! `7f000001.c0a80001.rbndr.us` for DNS rebinding) answer with the address spelled
//! in the name, so SSRF payloads use them to turn a "name" into loopback
//! (PayloadsAllTheThings, "Bypass using a domain redirection"). Naming them here
//! blocks those before any lookup; every other name is left to the resolver
//! (`None`), and the proxy classifies the addresses it actually resolves to.
//!
//! A name is never classed `Public` here: only its resolved addresses can say so.

use std::net::Ipv6Addr;

use super::class::{AddressClass, classify_ipv4, classify_ipv6};
use super::ip::parse_ipv4;

/// Names (exactly these) of cloud metadata services.
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal", // GCP
    "metadata.goog",            // GCP
    "metadata",                 // GCP short name via the instance's search domain
    "instance-data",            // AWS EC2, via the search domain
    "instance-data.ec2.internal",
    "metadata.tencentyun.com",      // Tencent Cloud
    "metadata.platformequinix.com", // Equinix Metal
    "metadata.packet.net",          // Equinix Metal (former Packet)
];

/// Names (exactly these) that /etc/hosts of common distributions maps locally.
const HOSTS_FILE_NAMES: &[(&str, AddressClass)] = &[
    ("localhost.localdomain", AddressClass::Loopback),
    ("localhost4", AddressClass::Loopback),
    ("localhost4.localdomain4", AddressClass::Loopback),
    ("localhost6", AddressClass::Loopback),
    ("localhost6.localdomain6", AddressClass::Loopback),
    ("ip6-localhost", AddressClass::Loopback),
    ("ip6-loopback", AddressClass::Loopback),
    ("loopback", AddressClass::Loopback),
    ("ip6-allnodes", AddressClass::Multicast),
    ("ip6-allrouters", AddressClass::Multicast),
    ("ip6-mcastprefix", AddressClass::Multicast),
    ("ip6-localnet", AddressClass::Reserved),
];

/// Public domains (and all their subdomains) that resolve to 127.0.0.1, used in
/// SSRF payloads to pass filters that only look for loopback literals.
const LOOPBACK_DOMAINS: &[&str] = &[
    "localhost",
    "localtest.me",
    "lvh.me",
    "vcap.me",
    "lacolhost.com",
    "fuf.me",
    "localho.st",
    "localhost.direct",
    "spoofed.burpcollaborator.net",
];

/// Wildcard-DNS and DNS-rebinding services that answer with the address(es)
/// spelled in the labels before them (`10.0.0.1.nip.io`, `app-10-0-0-1.sslip.io`,
/// `0a000001.nip.io`, `--1.sslip.io` for ::1, `7f000001.c0a80001.rbndr.us`,
/// `make-1.2.3.4-rebind-127.0.0.1-rr.1u.ms`).
const ADDRESS_ECHO_DOMAINS: &[&str] = &[
    "nip.io",
    "sslip.io",
    "xip.io",
    "traefik.me",
    "nip.direct",
    "rbndr.us",
    "1u.ms",
    "backname.io",
];

/// Special-use and private-use top-level domains (and deeper suffixes).
const SUFFIX_CLASSES: &[(&str, AddressClass)] = &[
    ("internal", AddressClass::Private), // ICANN private-use TLD (2024); AWS/GCP private DNS
    ("local", AddressClass::Private),    // mDNS (RFC 6762); Kubernetes cluster.local
    ("localdomain", AddressClass::Private), // distribution default domain
    ("home.arpa", AddressClass::Private), // RFC 8375 home networks
    ("lan", AddressClass::Private),      // de-facto home/office networks
    ("home", AddressClass::Private),     // ICANN name-collision list, never delegated
    ("corp", AddressClass::Private),     // ICANN name-collision list, never delegated
    ("intranet", AddressClass::Private),
    ("private", AddressClass::Private),
    ("svc", AddressClass::Private), // Kubernetes `service.namespace.svc` via search list
    ("test", AddressClass::Reserved), // RFC 6761
    ("invalid", AddressClass::Reserved), // RFC 6761
    ("onion", AddressClass::Reserved), // RFC 7686: Tor, never DNS
    ("alt", AddressClass::Reserved), // RFC 9476: non-DNS namespaces
    ("example", AddressClass::Documentation), // RFC 6761
];

/// Whether `name` is `domain` or a subdomain of it (label-aligned).
fn is_or_under(name: &str, domain: &str) -> bool {
    match name.strip_suffix(domain) {
        Some("") => true,
        Some(prefix) => prefix.ends_with('.'),
        None => false,
    }
}

/// Classifies a normalised name (lowercase ASCII, no trailing dot) when that is
/// possible without DNS. Never returns `Some(Public)`.
pub(crate) fn classify_name(name: &str) -> Option<AddressClass> {
    if METADATA_NAMES.contains(&name) {
        return Some(AddressClass::Metadata);
    }
    if let Some(&(_, class)) = HOSTS_FILE_NAMES.iter().find(|(n, _)| *n == name) {
        return Some(class);
    }
    if LOOPBACK_DOMAINS.iter().any(|d| is_or_under(name, d)) {
        return Some(AddressClass::Loopback);
    }
    for domain in ADDRESS_ECHO_DOMAINS {
        if let Some(prefix) = name.strip_suffix(domain).and_then(|p| p.strip_suffix('.')) {
            return echoed_address_class(prefix);
        }
    }
    if let Some(&(_, class)) = SUFFIX_CLASSES.iter().find(|(d, _)| is_or_under(name, d)) {
        return Some(class);
    }
    // A single label goes through the resolv.conf search list (ndots) first, so it
    // names a host of the local domain: `http://metadata/`, `http://redis:6379/`.
    if !name.is_empty() && !name.contains('.') {
        return Some(AddressClass::Private);
    }
    None
}

/// The least public class among the addresses spelled in the labels before an
/// address-echo domain, or `None` when none is spelled or all are public.
fn echoed_address_class(prefix: &str) -> Option<AddressClass> {
    let mut worst: Option<AddressClass> = None;
    let mut note = |class: AddressClass| {
        worst = Some(worst.map_or(class, |w| w.least_public(class)));
    };
    // Dotted or dashed quads anywhere: 10.0.0.1, app-10-0-0-1, make-1.2.3.4-rebind.
    // A window of four consecutive 1-3 digit tokens; spurious extra windows only
    // ever make the answer stricter.
    let tokens: Vec<&str> = prefix.split(['.', '-']).collect();
    for window in tokens.windows(4) {
        let dotted_ok = window
            .iter()
            .all(|t| !t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()));
        if dotted_ok {
            let quad = window.join(".");
            if let Some(ip) = parse_ipv4(&quad) {
                note(classify_ipv4(ip));
            }
        }
    }
    for label in prefix.split('.') {
        // Hex form, also as a dash-separated token: 7f000001, app-0a000001.
        for token in label.split('-') {
            if token.len() == 8
                && token.bytes().all(|b| b.is_ascii_hexdigit())
                && let Some(ip) = parse_ipv4(&format!("0x{token}"))
            {
                note(classify_ipv4(ip));
            }
        }
        // sslip.io IPv6: colons written as dashes, `--1` for ::1.
        if (label.contains("--") || label.matches('-').count() >= 2)
            && let Ok(ip) = label.replace('-', ":").parse::<Ipv6Addr>()
        {
            note(classify_ipv6(ip));
        }
    }
    worst.filter(|c| !c.is_public())
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressClass::*;

    #[test]
    fn loopback_names() {
        for n in [
            "localhost",
            "a.localhost",
            "deep.sub.localhost",
            "localhost.localdomain",
            "ip6-localhost",
            "ip6-loopback",
            "localhost6",
            "readme.localtest.me",
            "lvh.me",
            "x.localhost.direct",
        ] {
            assert_eq!(classify_name(n), Some(Loopback), "{n}");
        }
        assert_eq!(classify_name("notlocalhost.com"), None);
        assert_eq!(classify_name("localhost.com"), None);
        assert_eq!(classify_name("mylvh.me"), None);
    }

    #[test]
    fn metadata_names_beat_the_private_suffix() {
        for n in [
            "metadata.google.internal",
            "metadata.goog",
            "metadata",
            "instance-data",
        ] {
            assert_eq!(classify_name(n), Some(Metadata), "{n}");
        }
        assert_eq!(classify_name("ip-10-0-0-1.ec2.internal"), Some(Private));
        assert_eq!(classify_name("metadata.goog.example.com"), None);
    }

    #[test]
    fn special_use_suffixes_and_single_labels() {
        for (n, class) in [
            ("printer.local", Private),
            ("kubernetes.default.svc.cluster.local", Private),
            ("router.home.arpa", Private),
            ("db.internal", Private),
            ("redis", Private),
            ("a.test", Reserved),
            ("x.invalid", Reserved),
            ("abc.onion", Reserved),
            ("www.example", Documentation),
            ("ip6-allnodes", Multicast),
        ] {
            assert_eq!(classify_name(n), Some(class), "{n}");
        }
        for n in [
            "github.com",
            "local.com",
            "internal.example.com",
            "testing.com",
            "example.com",
        ] {
            assert_eq!(classify_name(n), None, "{n}");
        }
    }

    #[test]
    fn address_echo_services_are_classed_by_the_spelled_address() {
        for (n, class) in [
            ("127.0.0.1.nip.io", Loopback),
            ("company.127.0.0.1.nip.io", Loopback),
            ("app-10-0-0-1.sslip.io", Private),
            ("magic-169-254-169-254.nip.io", Metadata),
            ("app-169.254.169.254.nip.io", Metadata),
            ("7f000001.nip.io", Loopback),
            ("7f000001.08080808.rbndr.us", Loopback),
            ("make-8.8.8.8-rebind-127.0.0.1-rr.1u.ms", Loopback),
            ("--1.sslip.io", Loopback),
            ("fe80--1.sslip.io", LinkLocal),
        ] {
            assert_eq!(classify_name(n), Some(class), "{n}");
        }
        // Public or absent addresses: only DNS can tell.
        for n in [
            "8.8.8.8.nip.io",
            "nip.io",
            "www.nip.io",
            "notnip.io",
            "2606-4700--1111.sslip.io",
        ] {
            assert_eq!(classify_name(n), None, "{n}");
        }
    }
}
