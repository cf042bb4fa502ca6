//! Datagrams the kernel dropped before we could read them.
//!
//! When a UDP socket's receive buffer is full the kernel discards new
//! datagrams and counts them per socket. Linux shows that count in the last
//! column (`drops`) of `/proc/net/udp` and `/proc/net/udp6`, keyed by the
//! socket's inode. Reading it back is the only way to know about loss that
//! never reached user space.

use std::os::fd::AsRawFd;

/// The inode number that names `socket` in `/proc/net/*`.
pub(crate) fn inode(socket: &impl AsRawFd) -> Option<u64> {
    // SAFETY: fstat writes into a zeroed stat struct; the fd is open.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::fstat(socket.as_raw_fd(), &mut stat) };
    (rc == 0).then_some(stat.st_ino)
}

/// Total drops of the sockets with these inodes, or `None` where the
/// kernel offers no such table.
pub(crate) fn drops(inodes: &[u64]) -> Option<u64> {
    let mut found = false;
    let mut total = 0;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            found = true;
            total += sum_drops(&text, inodes);
        }
    }
    found.then_some(total)
}

/// Sums the `drops` column of the rows whose `inode` column is listed.
fn sum_drops(table: &str, inodes: &[u64]) -> u64 {
    table
        .lines()
        .skip(1)
        .filter_map(|row| {
            let fields: Vec<&str> = row.split_whitespace().collect();
            let inode: u64 = fields.get(9)?.parse().ok()?;
            let drops: u64 = fields.last()?.parse().ok()?;
            inodes.contains(&inode).then_some(drops)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::sum_drops;

    const TABLE: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17
  124: 0100007F:1FBE 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4343 2 0000000000000000 5
";

    #[test]
    fn sums_only_our_sockets() {
        assert_eq!(sum_drops(TABLE, &[4242]), 17);
        assert_eq!(sum_drops(TABLE, &[4242, 4343]), 22);
        assert_eq!(sum_drops(TABLE, &[1]), 0);
    }

    #[test]
    fn reads_drops_of_a_real_socket() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let inode = super::inode(&socket).unwrap();
        assert_eq!(super::drops(&[inode]), Some(0));
    }
}
