//! Client allow lists: addresses and CIDR networks. One mechanism for
//! `http_allow` (which clients the HTTP listeners answer) and
//! `requests.status_allow` (who may read `/_status`, gstats'
//! `GSTATS_ALLOWED_IPS`).

use std::net::IpAddr;

use ipnet::IpNet;

/// Addresses and networks a client may come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

    /// Whether `peer` lies in one of the networks (an empty list allows
    /// nobody; callers decide what "no list" means).
    pub(crate) fn allows(&self, peer: IpAddr) -> bool {
        // An IPv4 client on an IPv6 socket arrives as ::ffff:a.b.c.d.
        let peer = peer.to_canonical();
        self.networks.iter().any(|net| net.contains(&peer))
    }

    /// Entries in the list.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.networks.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.networks.is_empty()
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
