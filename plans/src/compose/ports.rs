//! `ports`, as docker reads them: the short form through `nat.ParsePortSpec` (ranges expand to
//! one port each, a host address is dropped with a warning, as docker drops it: a Swarm port
//! listens on every address) and the long form as written.

use super::keys::Treatment;
use super::yaml::{Node, Value};
use super::{Port, Reader};
use crate::diagnostic::problem::ComposeServiceProblem;

/// The short form `[[IP:]PUBLISHED[-END]:]TARGET[-END][/PROTOCOL]`: its ports in docker's
/// order, and the host address docker ignores, if one was written.
pub fn short(spec: &str) -> Result<(Vec<Port>, Option<String>), String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let n = parts.len();
    let (ip, host, container) = match n {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        3 => (parts[0].to_owned(), parts[1], parts[2]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let (protocol, container) = match container.split_once('/') {
        _ if container.is_empty() => ("", ""),
        Some((p, "")) => ("tcp", p),
        Some((p, proto)) => (proto, p),
        None => ("tcp", container),
    };
    let ip = match ip.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or_else(|| format!("invalid IP address {ip}"))?.to_owned(),
        None => ip,
    };
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container.is_empty() {
        return Err(format!("no port specified: {spec}<empty>"));
    }
    let (start, end) = range(container).ok_or_else(|| format!("invalid containerPort: {container}"))?;
    let (host_start, host_end) = match host {
        "" => (0, 0),
        h => range(h).ok_or_else(|| format!("invalid hostPort: {h}"))?,
    };
    if !host.is_empty() && end - start != host_end - host_start && end != start {
        return Err(format!("invalid ranges specified for container and host Ports: {container} and {host}"));
    }
    let protocol = protocol.to_ascii_lowercase();
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {protocol}"));
    }
    // One binding per container port (docker keys them by "PORT/PROTO" and sorts the keys as
    // text); a single container port with a host range publishes every port of the range.
    let mut bindings: Vec<(String, u32, (u32, u32))> = Vec::new();
    for i in 0..=(end - start) {
        let target = start + i;
        let published = match host {
            "" => (0, 0),
            _ if start == end && host_start != host_end => (host_start, host_end),
            _ => (host_start + i, host_start + i),
        };
        bindings.push((format!("{target}/{protocol}"), target, published));
    }
    bindings.sort_by(|a, b| a.0.cmp(&b.0));
    let mut ports = Vec::new();
    for (_, target, (from, to)) in bindings {
        for published in from..=to {
            ports.push(Port {
                target,
                published: Some(published).filter(|p| *p != 0),
                protocol: Some(protocol.clone()),
                mode: Some("ingress".into()),
            });
        }
    }
    let ignored = ip.parse::<std::net::IpAddr>().ok().filter(|a| !a.is_unspecified()).map(|_| ip);
    Ok((ports, ignored))
}

/// `N` or `N-M`, each from 0 to 65535.
fn range(text: &str) -> Option<(u32, u32)> {
    let port = |p: &str| p.parse::<u16>().ok().map(u32::from);
    match text.split_once('-') {
        None => port(text).map(|p| (p, p)),
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            (b >= a).then_some((a, b))
        }
    }
}

impl Reader<'_> {
    pub(super) fn ports(&mut self, node: &Node, what: &str) -> Vec<Port> {
        let Value::Seq(items) = &node.value else {
            if !node.is_null() {
                self.problem(ComposeServiceProblem::PortsNotAList { what }, node.span);
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Map(m) => {
                    let mut p = Port::default();
                    let mut target = None;
                    let mut published = None;
                    for (key, value) in m {
                        match key.text.as_str() {
                            "target" => target = Some(self.count(value, "`target`")),
                            "published" => published = self.count(value, "`published`"),
                            // The daemon reads both in any case.
                            "protocol" => {
                                p.protocol = self.optional_string(value, "`protocol`").map(|x| x.to_lowercase())
                            }
                            "mode" => p.mode = self.optional_string(value, "`mode`").map(|x| x.to_lowercase()),
                            _ => {
                                let table = [
                                    ("mode", Treatment::Applied),
                                    ("target", Treatment::Applied),
                                    ("published", Treatment::Applied),
                                    ("protocol", Treatment::Applied),
                                ];
                                self.other_key(key, "in this port", &table, false)
                            }
                        }
                    }
                    match target {
                        None => self.problem(ComposeServiceProblem::PortWithoutTarget, item.span),
                        // Not a number: said where it was read.
                        Some(None) => {}
                        Some(Some(t)) if t == 0 || t > 65535 || published.is_some_and(|n| n > 65535) => {
                            self.problem(ComposeServiceProblem::PortOutOfRange, item.span)
                        }
                        Some(Some(t)) => {
                            p.target = t as u32;
                            p.published = published.filter(|n| *n != 0).map(|n| n as u32);
                            out.push(p);
                        }
                    }
                }
                _ => {
                    let Some(s) = self.string(item, what) else { continue };
                    match short(s.value.trim()) {
                        Ok((ports, ignored)) => {
                            if let Some(ip) = ignored {
                                let problem = ComposeServiceProblem::PortAddressIgnored {
                                    address: &ip.to_string(),
                                    port: &s.value,
                                };
                                self.problem(problem, item.span);
                            }
                            out.extend(ports);
                        }
                        Err(why) => self.problem(
                            ComposeServiceProblem::NotAPort { port: &s.value, why: &why.to_string() },
                            item.span,
                        ),
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(target: u32, published: Option<u32>, protocol: &str) -> Port {
        Port { target, published, protocol: Some(protocol.into()), mode: Some("ingress".into()) }
    }

    #[test]
    fn short_ports_expand_as_docker_expands_them() {
        assert_eq!(short("3000").unwrap(), (vec![p(3000, None, "tcp")], None));
        assert_eq!(short("8000:8000").unwrap().0, vec![p(8000, Some(8000), "tcp")]);
        assert_eq!(short("53/udp").unwrap().0, vec![p(53, None, "udp")]);
        assert_eq!(
            short("3001-3003").unwrap().0,
            vec![p(3001, None, "tcp"), p(3002, None, "tcp"), p(3003, None, "tcp")]
        );
        assert_eq!(
            short("9090-9091:8080-8081").unwrap().0,
            vec![p(8080, Some(9090), "tcp"), p(8081, Some(9091), "tcp")]
        );
        // One container port, a host range: every host port of it.
        assert_eq!(short("8000-8001:80").unwrap().0, vec![p(80, Some(8000), "tcp"), p(80, Some(8001), "tcp")]);
        // Keys sort as text: 100 before 98.
        let targets: Vec<u32> = short("98-100").unwrap().0.iter().map(|p| p.target).collect();
        assert_eq!(targets, [100, 98, 99]);
        let (ports, ip) = short("127.0.0.1:8001:8001").unwrap();
        assert_eq!((ports, ip.as_deref()), (vec![p(8001, Some(8001), "tcp")], Some("127.0.0.1")));
        assert_eq!(short("0.0.0.0:80:80").unwrap().1, None);
        assert_eq!(short("[::1]:80:80").unwrap().1.as_deref(), Some("::1"));
    }

    #[test]
    fn short_ports_docker_refuses() {
        assert!(short("").is_err());
        assert!(short("80/xtp").unwrap_err().contains("invalid proto"));
        assert!(short("8000-8001:80-82").unwrap_err().contains("invalid ranges"));
        assert!(short("nope").unwrap_err().contains("containerPort"));
        assert!(short("1.2.3:80:80").unwrap_err().contains("IP address"));
        assert!(short("70000").is_err());
    }
}
