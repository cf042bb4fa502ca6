//! Who may read `/_status`: gstats' `GSTATS_ALLOWED_IPS` (exact addresses,
//! colon-separated) and networks in CIDR form.

use std::net::IpAddr;

use ipnet::IpNet;

/// Addresses and networks allowed to read the request view over HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AllowList {
    networks: Vec<IpNet>,
}

impl AllowList {
    /// Parses each entry as an address or a network (`10.0.0.0/8`,
    /// `::1`); returns the first entry that is neither.
    pub(crate) fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let networks = entries
            .into_iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| entry.to_owned())
            })
            .collect::<Result<_, _>>()?;
        Ok(AllowList { networks })
    }

    pub(crate) fn allows(&self, peer: IpAddr) -> bool {
        // An IPv4 client on an IPv6 socket arrives as ::ffff:a.b.c.d.
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        self.networks.iter().any(|net| net.contains(&peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_networks() {
        let list = AllowList::parse(["127.0.0.1", "10.0.0.0/8", "::1"]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(list.allows(ip("127.0.0.1")));
        assert!(list.allows(ip("::ffff:127.0.0.1")));
        assert!(list.allows(ip("10.200.3.4")));
        assert!(list.allows(ip("::1")));
        assert!(!list.allows(ip("127.0.0.2")));
        assert!(!list.allows(ip("192.168.1.1")));
        assert_eq!(
            AllowList::parse(["10.0.0.0/33"]).unwrap_err(),
            "10.0.0.0/33"
        );
        assert_eq!(AllowList::parse(["host"]).unwrap_err(), "host");
        assert!(!AllowList::parse([]).unwrap().allows(ip("127.0.0.1")));
    }
}
