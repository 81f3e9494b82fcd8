//! The host name a process publishes for others to reach it, and this machine's name.

use std::net::IpAddr;

/// `configured` if given; else the bound IP, unless it is a wildcard (`0.0.0.0`, `::`), which
/// others cannot connect to: then this machine's host name (`HOSTNAME`, `/etc/hostname`).
pub fn advertised_host(configured: Option<&str>, bound: IpAddr) -> String {
    if let Some(host) = configured.filter(|h| !h.is_empty()) {
        return host.to_string();
    }
    if !bound.is_unspecified() {
        return bound.to_string();
    }
    host_name()
}

/// This machine's host name: `HOSTNAME`, else `/etc/hostname`, else `localhost`.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_never_advertised() {
        let any: IpAddr = "0.0.0.0".parse().expect("an IP");
        let loopback: IpAddr = "127.0.0.1".parse().expect("an IP");
        assert_eq!(advertised_host(Some("worker-0.svc"), any), "worker-0.svc");
        assert_eq!(advertised_host(None, loopback), "127.0.0.1");
        let host = advertised_host(None, any);
        assert!(!host.is_empty() && host != "0.0.0.0", "{host}");
    }
}
