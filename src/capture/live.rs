//! Live capture from network interfaces with libpcap (the `pcap` crate).
//!
//! Each interface is opened with the snap length, kernel buffer size and promiscuous mode
//! asked for, in immediate mode (packets are delivered as they arrive, not when a kernel
//! buffer fills), non-blocking, and read after a `poll` of at most [`READ_TIMEOUT_MS`], so that
//! the capture loop wakes up at least that often to flush partial batches, look at the stop flag and report
//! statistics. The capture filter (`--bpf`) is compiled by libpcap for the interface.
//!
//! Trouble: an interface that does not exist, or that we may not open, is a configuration
//! error before anything starts ([`open`]); an interface that fails while running (taken down,
//! removed) is reopened with a growing pause ([`RETRY_MIN`] to [`RETRY_MAX`]), counted, and
//! reported; packets resume when it comes back.

use std::time::Duration;

/// How long a read waits for a packet before returning (milliseconds).
pub const READ_TIMEOUT_MS: i32 = 100;
/// First pause before reopening a failed interface.
pub const RETRY_MIN: Duration = Duration::from_secs(1);
/// Longest pause between reopening attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// How to open an interface.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Interface name.
    pub interface: String,
    /// Bytes kept per packet.
    pub snaplen: i32,
    /// Kernel buffer in bytes (0: libpcap's default).
    pub buffer_size: i32,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Capture filter.
    pub bpf: Option<String>,
}

/// An open interface.
pub struct LiveCapture {
    /// How it was opened (to reopen it).
    pub options: LiveOptions,
    /// The libpcap handle.
    pub handle: pcap::Capture<pcap::Active>,
    /// Its link type.
    pub linktype: i32,
}

/// Open an interface. Errors are for people: they say what to do.
pub fn open(options: &LiveOptions) -> Result<LiveCapture, String> {
    let name = &options.interface;
    let devices =
        pcap::Device::list().map_err(|e| format!("-i {name}: cannot list interfaces: {e}"))?;
    let Some(device) = devices.into_iter().find(|d| &d.name == name) else {
        return Err(format!(
            "-i {name}: no such interface (see `ip link` for the names)"
        ));
    };
    let mut builder = pcap::Capture::from_device(device)
        .map_err(|e| format!("-i {name}: {e}"))?
        .snaplen(options.snaplen)
        .promisc(options.promisc)
        .immediate_mode(true)
        .timeout(READ_TIMEOUT_MS);
    if options.buffer_size > 0 {
        builder = builder.buffer_size(options.buffer_size);
    }
    let mut handle = builder.open().map_err(|e| {
        let text = e.to_string();
        if text.contains("ermission") || text.contains("not permitted") {
            format!("-i {name}: {text}: run as root, or grant the binary CAP_NET_RAW and CAP_NET_ADMIN (setcap cap_net_raw,cap_net_admin=eip $(which ioc-sensor))")
        } else {
            format!("-i {name}: {text}")
        }
    })?;
    if let Some(expr) = &options.bpf {
        handle
            .filter(expr, true)
            .map_err(|e| format!("--bpf {expr:?}: {e}"))?;
    }
    let linktype = handle.get_datalink().0;
    // Non-blocking, with our own poll: in immediate mode libpcap may ignore its read timeout,
    // and the capture loop must wake up to flush, report and stop.
    let handle = handle
        .setnonblock()
        .map_err(|e| format!("-i {name}: {e}"))?;
    Ok(LiveCapture {
        options: options.clone(),
        handle,
        linktype,
    })
}

/// Kernel counters of an interface since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets the kernel saw for us.
    pub packets: u64,
    /// Dropped because we did not read fast enough (buffer full).
    pub drops: u64,
    /// Dropped by the interface or its driver.
    pub if_drops: u64,
}

impl LiveCapture {
    /// Wait until packets can be read or `timeout_ms` has passed. Errors of poll itself
    /// (other than an interrupting signal) are returned.
    pub fn wait(&self, timeout_ms: i32) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: self.handle.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, its count, a timeout.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The kernel's counters (zero when the platform does not give them).
    pub fn kernel_stats(&mut self) -> KernelStats {
        match self.handle.stats() {
            Ok(s) => KernelStats {
                packets: u64::from(s.received),
                drops: u64::from(s.dropped),
                if_drops: u64::from(s.if_dropped),
            },
            Err(_) => KernelStats::default(),
        }
    }
}
