//! The command line as the user typed it (clap). Validation beyond syntax, and building the
//! working objects, happen in `cli::run`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Finds command-and-control contacts in traffic: DNS names, TLS SNI, HTTP hosts and flow
/// addresses matched against indicator feeds; alerts as Suricata EVE JSON.
#[derive(Debug, Parser)]
#[command(name = "ioc-sensor", version, args_conflicts_with_subcommands = true, after_help = EXAMPLES)]
pub struct Args {
    /// Subcommands for feeds.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Read packets from a capture file (pcap or pcapng), a directory of them (name order),
    /// or `-` for standard input. Repeatable.
    #[arg(short = 'r', long = "read", value_name = "PCAP|DIR|-")]
    pub read: Vec<String>,

    /// Capture live from an interface. Repeatable.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Vec<String>,

    /// Indicator feed file or directory. Repeatable. Default: the feeds shipped with the
    /// sensor (compiled in).
    #[arg(short = 'f', long = "feed", value_name = "FEED|DIR")]
    pub feeds: Vec<PathBuf>,

    /// Names and addresses that must never alert, even when a feed lists them (shared
    /// hosting, CDNs, your own domains). Same formats as feeds. Repeatable.
    #[arg(long = "allow", value_name = "FILE|DIR")]
    pub allow: Vec<PathBuf>,

    /// Key of sealed feeds (see `ioc-sensor feeds seal`): a file whose bytes are the key.
    #[arg(long = "key-file", value_name = "KEY", global = true)]
    pub key_file: Option<PathBuf>,

    /// Where EVE JSON lines go: a file (appended to) or `-` for standard output.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "EVE|-",
        default_value = "-"
    )]
    pub output: String,

    /// Record types to write, comma-separated: alert,dns,tls,http,quic,flow,stats (alert is
    /// always on; flow: one record per flow when it ends; stats: counters every
    /// --stats-interval, and at the end).
    #[arg(long = "events", value_name = "LIST", value_delimiter = ',')]
    pub events: Vec<String>,

    /// Worker threads. Default: the number of CPUs.
    #[arg(long = "workers", value_name = "N")]
    pub workers: Option<usize>,

    /// Flows tracked at once, by all workers together (each about 200 bytes). When a
    /// worker's share is full, the quarter of its flows idle the longest are ended early
    /// (their pending alerts written, counted in the summary) to make room.
    #[arg(long = "max-flows", value_name = "N", default_value_t = crate::flow::MAX_FLOWS,
          value_parser = clap::value_parser!(usize))]
    pub max_flows: usize,

    /// Capture filter in libpcap syntax, applied to files too.
    #[arg(long = "bpf", value_name = "EXPR")]
    pub bpf: Option<String>,

    /// Live capture: bytes kept per packet.
    #[arg(long = "snaplen", value_name = "BYTES", default_value_t = 65535)]
    pub snaplen: i32,

    /// Live capture: kernel buffer size in bytes. In immediate mode libpcap's ring has one
    /// snap-length slot per packet, so libpcap's 2 MiB default holds only ~30 packets and a
    /// burst overflows it: 64 MiB holds ~1000 full-size packets at the default snap length.
    #[arg(long = "buffer-size", value_name = "BYTES", default_value_t = 64 * 1024 * 1024)]
    pub buffer_size: i32,

    /// Live capture: do not put the interface in promiscuous mode.
    #[arg(long = "no-promisc")]
    pub no_promisc: bool,

    /// Seconds between `stats` records (written when `--events` has `stats`, and always when
    /// capturing live).
    #[arg(long = "stats-interval", value_name = "SECONDS", default_value_t = 30)]
    pub stats_interval: u64,

    /// Drop root for this user once the interfaces are open and the output file created.
    #[arg(long = "user", value_name = "NAME")]
    pub user: Option<String>,

    /// Drop root for this group (default: the user's group).
    #[arg(long = "group", value_name = "NAME")]
    pub group: Option<String>,

    /// No progress bar and no summary on stderr.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with indicator feeds.
    Feeds {
        /// What to do.
        #[command(subcommand)]
        action: FeedsAction,
    },
}

/// `feeds` subcommands.
#[derive(Debug, Subcommand)]
pub enum FeedsAction {
    /// Load feeds exactly as the sensor would and report what they hold and every bad line.
    Check {
        /// Feed files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Write a sealed copy of feeds to standard output: keyed hashes instead of values, so a
    /// seized sensor does not reveal what it looks for (needs --key-file).
    Seal {
        /// Metadata to keep, comma-separated: campaign,tags,validity,references,description.
        /// References and descriptions often name the indicator: kept only when asked.
        #[arg(
            long = "keep",
            value_name = "LIST",
            default_value = "campaign,tags,validity"
        )]
        keep: String,
        /// Feed files or directories (any format).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

const EXAMPLES: &str = "Examples:
  ioc-sensor -r incident.pcap                       shipped feeds, alerts to stdout
  ioc-sensor -r day1/ -r day2.pcapng -f feeds/ -o alerts.json
  ioc-sensor -r capture.pcap --events dns,tls,http | jq 'select(.event_type==\"alert\")'
  ioc-sensor feeds check my-feeds/
  head -c 32 /dev/urandom > sensor.key; ioc-sensor feeds seal --key-file sensor.key feeds/ > sealed.feed
  ioc-sensor -r capture.pcap -f sealed.feed --key-file sensor.key

Exit status: 0 done, 1 runtime failure (some input could not be read), 2 bad usage or configuration.";
