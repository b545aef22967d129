//! Address classes: which IP addresses an agent may reach on the public internet
//! and which are the machine itself, its networks, or its cloud's metadata service.
//!
//! The metadata endpoint (169.254.169.254 and its siblings) is the prize of most
//! cloud SSRF (Capital One 2019: IAM credentials read through an SSRF to AWS IMDS),
//! so it is its own class and beats link-local and private. IPv6 addresses that
//! carry an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64
//! `64:ff9b::/96`, 6to4 `2002::/16`, Teredo `2001::/32`) are classed by the IPv4
//! address the packets end up at, since `http://[::ffff:127.0.0.1]/` reaches
//! loopback on a dual-stack host. Anything outside the allocated global unicast
//! space is `Reserved`, never `Public`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What kind of destination an address is. Only [`AddressClass::Public`] is on
/// the public internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Globally routable unicast.
    Public,
    /// The machine itself: 127.0.0.0/8, ::1, `localhost`.
    Loopback,
    /// RFC 1918 private networks, IPv6 unique-local fc00::/7, site-local fec0::/10.
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// A cloud instance metadata service (credentials, user data).
    Metadata,
    /// 0.0.0.0/8 and `::` (Linux connects 0.0.0.0 to the local host).
    Unspecified,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// Carrier-grade NAT space 100.64.0.0/10 (RFC 6598).
    SharedAddressSpace,
    /// Documentation ranges (RFC 5737, RFC 3849, RFC 9637), `.example`.
    Documentation,
    /// Everything else that is not globally routable: 240.0.0.0/4, benchmarking,
    /// IETF protocol assignments, unallocated IPv6, `.test`, `.invalid`, `.onion`.
    Reserved,
}

impl AddressClass {
    /// Every class, public first.
    pub const ALL: [AddressClass; 11] = [
        AddressClass::Public,
        AddressClass::Loopback,
        AddressClass::Private,
        AddressClass::LinkLocal,
        AddressClass::Metadata,
        AddressClass::Unspecified,
        AddressClass::Multicast,
        AddressClass::Broadcast,
        AddressClass::SharedAddressSpace,
        AddressClass::Documentation,
        AddressClass::Reserved,
    ];

    /// Whether the address is on the public internet.
    pub fn is_public(self) -> bool {
        self == AddressClass::Public
    }

    /// The name used in policies, logs and JSON, e.g. `loopback`, `cloud-metadata`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Metadata => "cloud-metadata",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::SharedAddressSpace => "shared-address-space",
            AddressClass::Documentation => "documentation",
            AddressClass::Reserved => "reserved",
        }
    }

    /// How much reaching such an address could expose, higher is worse. Used to
    /// pick the least public of several readings of one input.
    pub fn severity(self) -> u8 {
        match self {
            AddressClass::Public => 0,
            AddressClass::Documentation => 1,
            AddressClass::Reserved => 2,
            AddressClass::Multicast => 3,
            AddressClass::Broadcast => 4,
            AddressClass::SharedAddressSpace => 5,
            AddressClass::Private => 6,
            AddressClass::LinkLocal => 7,
            AddressClass::Unspecified => 8,
            AddressClass::Loopback => 9,
            AddressClass::Metadata => 10,
        }
    }

    /// The less public (more severe) of two classes.
    pub fn least_public(self, other: AddressClass) -> AddressClass {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AddressClass {
    type Err = String;

    /// Reads a name from [`AddressClass::as_str`]; `metadata` is accepted too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("metadata") {
            return Ok(AddressClass::Metadata);
        }
        AddressClass::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown address class {s:?}"))
    }
}

impl Serialize for AddressClass {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AddressClass {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Classifies an IP address; IPv6 addresses carrying IPv4 are classed by the IPv4.
pub fn classify_ip(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_ipv4(v4),
        IpAddr::V6(v6) => classify_ipv6(v6),
    }
}

/// IPv4 ranges, most specific first; the first match wins. Exact metadata
/// addresses come before the ranges that contain them.
const IPV4_TABLE: &[(u32, u8, AddressClass)] = &[
    // AWS, GCP, Azure, OCI, DigitalOcean, OpenStack, Hetzner... instance metadata.
    (0xa9fe_a9fe, 32, AddressClass::Metadata), // 169.254.169.254
    (0xa9fe_aa02, 32, AddressClass::Metadata), // 169.254.170.2: AWS ECS task metadata / credentials
    (0xa9fe_aa17, 32, AddressClass::Metadata), // 169.254.170.23: AWS EKS Pod Identity agent
    (0xa9fe_0017, 32, AddressClass::Metadata), // 169.254.0.23: Tencent Cloud metadata
    (0x6464_64c8, 32, AddressClass::Metadata), // 100.100.100.200: Alibaba Cloud metadata
    (0xc000_00c0, 32, AddressClass::Metadata), // 192.0.0.192: Oracle Cloud metadata
    (0xa83f_8110, 32, AddressClass::Metadata), // 168.63.129.16: Azure WireServer (VM agent, extension secrets)
    (0xffff_ffff, 32, AddressClass::Broadcast),
    (0x0000_0000, 8, AddressClass::Unspecified), // "this network"; Linux treats 0.0.0.0 as local
    (0x7f00_0000, 8, AddressClass::Loopback),
    (0x0a00_0000, 8, AddressClass::Private),
    (0xac10_0000, 12, AddressClass::Private),
    (0xc0a8_0000, 16, AddressClass::Private),
    (0x6440_0000, 10, AddressClass::SharedAddressSpace),
    (0xa9fe_0000, 16, AddressClass::LinkLocal),
    (0xc000_0200, 24, AddressClass::Documentation), // TEST-NET-1
    (0xc633_6400, 24, AddressClass::Documentation), // TEST-NET-2
    (0xcb00_7100, 24, AddressClass::Documentation), // TEST-NET-3
    (0xc000_0000, 24, AddressClass::Reserved),      // IETF protocol assignments
    (0xc058_6300, 24, AddressClass::Reserved),      // 6to4 relay anycast (deprecated)
    (0xc612_0000, 15, AddressClass::Reserved),      // benchmarking
    (0xe000_0000, 4, AddressClass::Multicast),
    (0xf000_0000, 4, AddressClass::Reserved), // "future use"; includes broadcast, matched above
];

/// Classifies an IPv4 address.
pub fn classify_ipv4(ip: Ipv4Addr) -> AddressClass {
    let bits = u32::from(ip);
    for &(net, len, class) in IPV4_TABLE {
        let mask = if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len))
        };
        if bits & mask == net {
            return class;
        }
    }
    AddressClass::Public
}

/// IPv6 cloud metadata endpoints.
const IPV6_METADATA: &[u128] = &[
    0xfd00_0ec2_0000_0000_0000_0000_0000_0254, // fd00:ec2::254: AWS IMDS over IPv6
    0xfd00_0ec2_0000_0000_0000_0000_0000_0023, // fd00:ec2::23: AWS EKS Pod Identity agent
    0xfd20_00ce_0000_0000_0000_0000_0000_0254, // fd20:ce::254: GCP metadata over IPv6
];

/// IPv6 ranges checked after the special cases, first match wins.
const IPV6_TABLE: &[(u128, u8, AddressClass)] = &[
    (0xfe80 << 112, 10, AddressClass::LinkLocal),
    (0xfec0 << 112, 10, AddressClass::Private), // site-local (deprecated, RFC 3879)
    (0xfc00 << 112, 7, AddressClass::Private),  // unique local
    (0xff00 << 112, 8, AddressClass::Multicast),
    (0x2001_0db8 << 96, 32, AddressClass::Documentation),
    (0x3fff << 112, 20, AddressClass::Documentation), // RFC 9637
    (0x0100 << 112, 64, AddressClass::Reserved),      // discard-only
    (0x2001 << 112, 23, AddressClass::Reserved),      // IETF protocol assignments
];

/// Classifies an IPv6 address, by its embedded IPv4 address where it has one.
pub fn classify_ipv6(ip: Ipv6Addr) -> AddressClass {
    let bits = u128::from(ip);
    if bits == 0 {
        return AddressClass::Unspecified;
    }
    if bits == 1 {
        return AddressClass::Loopback;
    }
    if IPV6_METADATA.contains(&bits) {
        return AddressClass::Metadata;
    }
    if let Some(v4) = embedded_ipv4(ip) {
        return classify_ipv4(v4);
    }
    let low32 = Ipv4Addr::from(bits as u32);
    // Local-use NAT64 prefix (RFC 8215): operators embed the IPv4 address either at
    // the end (/96: bits 48-95 zero) or per RFC 6052's /48 layout (bits 48-63 and
    // 72-87, the "u" octet and the suffix zero). When the zeros do not tell which,
    // take the least public of the two readings.
    if bits >> 80 == 0x0064_ff9b_0001 {
        let hi = ((bits >> 64) & 0xffff) as u32;
        let lo = ((bits >> 40) & 0xffff) as u32;
        let at48 = classify_ipv4(Ipv4Addr::from((hi << 16) | lo));
        let at96 = classify_ipv4(low32);
        let middle_zero = (bits >> 32) & 0xffff_ffff_ffff == 0;
        let suffix_zero = bits & 0xff_ffff_ffff == 0 && (bits >> 56) & 0xff == 0;
        return match (middle_zero, suffix_zero) {
            (true, _) => at96,
            (false, true) => at48,
            (false, false) => at96.least_public(at48),
        };
    }
    // 6to4 (RFC 3056): 2002:AABB:CCDD::/48 tunnels to IPv4 AA.BB.CC.DD.
    if bits >> 112 == 0x2002 {
        return classify_ipv4(Ipv4Addr::from((bits >> 80) as u32));
    }
    // Teredo (RFC 4380): 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, server IPv4 in
    // bits 32-63, client IPv4 inverted in the low 32 bits; either can be reached.
    if bits >> 96 == 0x2001_0000 {
        let server = Ipv4Addr::from((bits >> 64) as u32);
        let client = Ipv4Addr::from(!(bits as u32));
        return classify_ipv4(server).least_public(classify_ipv4(client));
    }
    for &(net, len, class) in IPV6_TABLE {
        let mask = u128::MAX << (128 - u32::from(len));
        if bits & mask == net {
            return class;
        }
    }
    // Only 2000::/3 is allocated for global unicast; the rest is not routable.
    if bits >> 125 != 0b001 {
        return AddressClass::Reserved;
    }
    AddressClass::Public
}

/// The IPv4 address an IPv6 address stands for, when it is one by construction:
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d` (deprecated, still
/// routed by some stacks), SIIT-translated `::ffff:0:a.b.c.d`, and the NAT64
/// well-known prefix `64:ff9b::a.b.c.d`. `::` and `::1` are not IPv4.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let prefix = bits >> 32;
    let v4 = Ipv4Addr::from(bits as u32);
    match prefix {
        0 if bits > 1 => Some(v4),                   // ::a.b.c.d
        0xffff => Some(v4),                          // ::ffff:a.b.c.d
        0xffff_0000 => Some(v4),                     // ::ffff:0:a.b.c.d
        0x0064_ff9b_0000_0000_0000_0000 => Some(v4), // 64:ff9b::a.b.c.d
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressClass::*;

    fn c(s: &str) -> AddressClass {
        classify_ip(s.parse().unwrap())
    }

    #[test]
    fn ipv4_classes() {
        for (ip, class) in [
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.168.1.1", Private),
            ("169.254.1.1", LinkLocal),
            ("169.254.169.254", Metadata),
            ("169.254.170.2", Metadata),
            ("100.100.100.200", Metadata),
            ("192.0.0.192", Metadata),
            ("168.63.129.16", Metadata),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("255.255.255.255", Broadcast),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("100.128.0.1", Public),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("240.0.0.1", Reserved),
            ("255.255.255.254", Reserved),
            ("198.18.0.1", Reserved),
            ("198.19.255.255", Reserved),
            ("192.0.0.8", Reserved),
        ] {
            assert_eq!(c(ip), class, "{ip}");
        }
    }

    #[test]
    fn ipv6_classes() {
        for (ip, class) in [
            ("::", Unspecified),
            ("::1", Loopback),
            ("2606:4700:4700::1111", Public),
            ("2a00:1450:4001::200e", Public),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fec0::1", Private),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fd00:ec2::254", Metadata),
            ("fd20:ce::254", Metadata),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("100::1", Reserved),
            ("2001:2::1", Reserved),
            ("4000::1", Reserved),
            ("::2:3:4:5", Reserved),
        ] {
            assert_eq!(c(ip), class, "{ip}");
        }
    }

    #[test]
    fn embedded_ipv4_is_classed_by_its_ipv4_meaning() {
        for (ip, class) in [
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:7f00:1", Loopback),
            ("0:0:0:0:0:ffff:169.254.169.254", Metadata),
            ("::ffff:8.8.8.8", Public),
            ("::127.0.0.1", Loopback),
            ("::10.0.0.1", Private),
            ("::ffff:0:127.0.0.1", Loopback),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", Metadata),
            ("64:ff9b::8.8.8.8", Public),
            ("64:ff9b:1::10.0.0.1", Private),
            ("64:ff9b:1::8.8.8.8", Public),
            ("64:ff9b:1:0808:8:800::", Public), // RFC 6052 /48 layout of 8.8.8.8
            ("64:ff9b:1:7f00:0:100::", Loopback), // RFC 6052 /48 layout of 127.0.0.1
            ("2002:7f00:1::", Loopback),
            ("2002:a9fe:a9fe::1", Metadata),
            ("2002:0808:0808::1", Public),
            ("2001:0:7f00:1::", Loopback), // Teredo server 127.0.0.1
            ("2001:0:0808:0808::f5ff:fffe", Private), // client 10.0.0.1, inverted
            ("2001:0:0808:0808::f7f7:f7f7", Public), // client 8.8.8.8
        ] {
            assert_eq!(c(ip), class, "{ip}");
        }
    }

    #[test]
    fn names_round_trip_and_serde() {
        for class in AddressClass::ALL {
            assert_eq!(class.as_str().parse::<AddressClass>(), Ok(class));
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            assert_eq!(serde_json::from_str::<AddressClass>(&json).unwrap(), class);
            assert_eq!(class.is_public(), class == Public);
        }
        assert_eq!("metadata".parse::<AddressClass>(), Ok(Metadata));
        assert!("nowhere".parse::<AddressClass>().is_err());
    }

    #[test]
    fn metadata_beats_everything_and_public_loses() {
        for class in AddressClass::ALL {
            assert_eq!(Metadata.least_public(class), Metadata);
            assert_eq!(Public.least_public(class), class);
            assert_eq!(class.least_public(Public), class);
        }
        assert_eq!(LinkLocal.least_public(Private), LinkLocal);
    }
}
