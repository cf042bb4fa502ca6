//! The CPU time of the server under load, when bench can find it: the
//! local process that holds the socket the load goes to (a UDP socket bound
//! to the target, or a listening TCP one), found through `/proc/net` and
//! `/proc/<pid>/fd`, its time read from `/proc/<pid>/stat`. Another user's
//! process (its fds are not readable) or one in another network namespace
//! is not found; then the CPU per line is not known, and `statkit bench`
//! says nothing about it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::Transport;

/// The process that receives the load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// Its pid.
    pub pid: u32,
    /// Its command name (`/proc/<pid>/comm`).
    pub name: String,
}

impl Server {
    /// The local process holding the socket that `transport` to `target`
    /// reaches, if one can be found.
    pub fn find(target: SocketAddr, transport: Transport) -> Option<Server> {
        let (table, listening) = match (transport, target) {
            (Transport::Udp, SocketAddr::V4(_)) => ("/proc/net/udp", "07"),
            (Transport::Udp, SocketAddr::V6(_)) => ("/proc/net/udp6", "07"),
            (Transport::Tcp, SocketAddr::V4(_)) => ("/proc/net/tcp", "0A"),
            (Transport::Tcp, SocketAddr::V6(_)) => ("/proc/net/tcp6", "0A"),
        };
        let table = std::fs::read_to_string(table).ok()?;
        let inode = socket_inode(&table, target, listening)?;
        let pid = holder(inode)?;
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map_or_else(|_| "?".to_owned(), |n| n.trim().to_owned());
        Some(Server { pid, name })
    }

    /// Its user and system CPU time so far; `None` once it has exited.
    pub fn cpu(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        cpu_of_stat(&stat)
    }
}

/// The inode of the socket in a `/proc/net/{udp,tcp}[6]` table bound to
/// `target`'s port on its address or on any address, in state `state`
/// (`07` unconnected UDP, `0A` listening TCP).
fn socket_inode(table: &str, target: SocketAddr, state: &str) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, st, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
        let (address, port) = local.split_once(':')?;
        let port = u16::from_str_radix(port, 16).ok()?;
        let bound = match target.ip() {
            IpAddr::V4(ip) => {
                let raw = u32::from_str_radix(address, 16).ok()?;
                // The kernel prints the address's bytes as one native-endian
                // word.
                let on = Ipv4Addr::from(raw.to_ne_bytes());
                on == ip || on.is_unspecified()
            }
            // Port and state are enough to tell on loopback.
            IpAddr::V6(_) => true,
        };
        (port == target.port() && *st == state && bound)
            .then(|| inode.parse().ok())
            .flatten()
            .filter(|&inode| inode != 0)
    })
}

/// The pid (other than this one) with an fd on socket `inode`.
fn holder(inode: u64) -> Option<u32> {
    let wanted = format!("socket:[{inode}]");
    let own = std::process::id();
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != own)
        .find(|pid| {
            holds(
                &Path::new("/proc").join(pid.to_string()).join("fd"),
                &wanted,
            )
        })
}

fn holds(fds: &Path, wanted: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(fds) else {
        return false;
    };
    entries
        .filter_map(Result::ok)
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == wanted))
}

/// utime + stime from a `/proc/<pid>/stat` line.
fn cpu_of_stat(stat: &str) -> Option<Duration> {
    // The command name may hold spaces and parentheses: fields are counted
    // after its closing parenthesis, where field 3 (state) comes first.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = u64::try_from(ticks).ok().filter(|&t| t > 0)?;
    Some(Duration::from_nanos(
        (utime + stime).saturating_mul(1_000_000_000) / ticks,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn reads_cpu_time_after_the_command_name() {
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 30 20 0 0 20 0";
        assert_eq!(
            cpu_of_stat(stat),
            Some(Duration::from_nanos(50 * 1_000_000_000 / ticks))
        );
        assert_eq!(cpu_of_stat("garbage"), None);
    }

    #[test]
    fn finds_the_socket_a_target_reaches() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                     1: 0100007F:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 777 2\n\
                     2: 00000000:1FBE 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 888 2\n";
        let at = |addr: &str| socket_inode(table, addr.parse().unwrap(), "07");
        assert_eq!(at("127.0.0.1:8125"), Some(777));
        assert_eq!(at("127.0.0.1:8126"), Some(888), "bound to any address");
        assert_eq!(at("127.0.0.2:8125"), None, "another address");
        assert_eq!(
            socket_inode(table, "127.0.0.1:8125".parse().unwrap(), "0A"),
            None
        );
    }

    #[test]
    fn a_socket_of_another_process_is_found_not_our_own() {
        // Our own socket: bench never measures itself.
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            Server::find(socket.local_addr().unwrap(), Transport::Udp),
            None
        );
    }
}
