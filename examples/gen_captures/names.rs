//! Names and addresses for the synthetic mixes and the benchmark feed. Each is a pure
//! function of (seed, index), so the feed generator can name exactly what the mix contains.

use super::rng::{hash3, Rng};

/// Well-known names, most of the lookups and SNIs in the realistic mix.
pub const POPULAR: &[&str] = &[
    "www.google.com",
    "www.youtube.com",
    "i.ytimg.com",
    "fonts.gstatic.com",
    "www.gstatic.com",
    "accounts.google.com",
    "mail.google.com",
    "play.googleapis.com",
    "update.googleapis.com",
    "www.microsoft.com",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "teams.microsoft.com",
    "graph.microsoft.com",
    "settings-win.data.microsoft.com",
    "www.bing.com",
    "edge.microsoft.com",
    "www.facebook.com",
    "static.xx.fbcdn.net",
    "www.instagram.com",
    "web.whatsapp.com",
    "www.apple.com",
    "gateway.icloud.com",
    "api.github.com",
    "github.com",
    "objects.githubusercontent.com",
    "www.wikipedia.org",
    "en.wikipedia.org",
    "upload.wikimedia.org",
    "www.amazon.com",
    "images-na.ssl-images-amazon.com",
    "s3.amazonaws.com",
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "www.cloudflare.com",
    "ajax.googleapis.com",
    "www.linkedin.com",
    "static.licdn.com",
    "zoom.us",
    "slack.com",
    "api.slack.com",
    "www.dropbox.com",
    "www.netflix.com",
    "yandex.ru",
    "mail.ru",
    "vk.com",
    "gov.kz",
    "egov.kz",
    "tengrinews.kz",
    "www.inform.kz",
];

/// Words for invented names: ordinary nouns and colours, nothing an indicator list is made of.
const WORDS: &[&str] = &[
    "amber", "aspen", "basil", "birch", "blue", "brook", "cedar", "cloud", "coral", "crane",
    "delta", "dune", "ember", "fern", "field", "finch", "fjord", "frost", "garnet", "glade",
    "grove", "harbor", "hazel", "heron", "indigo", "iris", "ivory", "jade", "juniper", "lake",
    "lark", "laurel", "lemon", "lilac", "linden", "maple", "marsh", "meadow", "mint", "moss",
    "nectar", "north", "oak", "ocean", "olive", "onyx", "orchid", "otter", "pearl", "pine", "plum",
    "quartz", "raven", "reed", "river", "robin", "sage", "sand", "slate", "spruce", "stone",
    "summit", "swift", "teal", "thistle", "tide", "valley", "willow", "wren", "zephyr",
];
const TLDS: &[&str] = &[
    "com", "net", "org", "io", "de", "ru", "kz", "fr", "co.uk", "nl", "info", "app", "dev", "cn",
];
const SUBS: &[&str] = &[
    "www", "cdn", "api", "static", "img", "media", "edge", "assets", "m", "login", "app", "s1",
];

/// Invented names the mix looks up besides the popular ones.
pub const POOL_NAMES: u64 = 20_000;
/// Server addresses of the mix.
pub const POOL_ADDRS: u64 = 60_000;
/// Names and addresses planted in the mix (a few flows each) for the feed to find.
pub const PLANTED_NAMES: u64 = 4;
pub const PLANTED_ADDRS: u64 = 2;

const D_POOL_NAME: u64 = 1;
const D_POOL_ADDR: u64 = 2;
const D_PLANTED_NAME: u64 = 3;
const D_PLANTED_ADDR: u64 = 4;
const D_FEED_NAME: u64 = 5;
const D_FEED_ADDR: u64 = 6;

fn label(rng: &mut Rng, out: &mut String, min: u64, max: u64) {
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..rng.range(min, max) {
        out.push(char::from(ALNUM[rng.below(ALNUM.len() as u64) as usize]));
    }
}

/// An invented but plausible name (`cdn.mapleriver.net`, `amber-lake.io`, ...) from `h`.
fn invented(h: u64, out: &mut String) {
    let mut rng = Rng::new(h);
    match rng.below(4) {
        0 => {
            out.push_str(pick(&mut rng, WORDS));
            out.push_str(pick(&mut rng, WORDS));
        }
        1 => {
            out.push_str(pick(&mut rng, SUBS));
            out.push('.');
            out.push_str(pick(&mut rng, WORDS));
            out.push_str(pick(&mut rng, WORDS));
        }
        2 => {
            out.push_str(pick(&mut rng, WORDS));
            out.push('-');
            out.push_str(pick(&mut rng, WORDS));
        }
        _ => {
            label(&mut rng, out, 6, 12);
            out.push('.');
            out.push_str(pick(&mut rng, SUBS));
            out.push('.');
            out.push_str(pick(&mut rng, WORDS));
            out.push_str(pick(&mut rng, WORDS));
        }
    }
    out.push('.');
    out.push_str(pick(&mut rng, TLDS));
}

pub fn pool_name(seed: u64, index: u64, out: &mut String) {
    invented(hash3(D_POOL_NAME, seed, index), out);
}

pub fn planted_name(seed: u64, index: u64, out: &mut String) {
    invented(hash3(D_PLANTED_NAME, seed, index), out);
}

/// A random name for the feed, unlikely to be in the mix.
pub fn feed_name(seed: u64, index: u64, out: &mut String) {
    let mut rng = Rng::new(hash3(D_FEED_NAME, seed, index));
    label(&mut rng, out, 5, 14);
    if rng.chance(0.3) {
        out.push('-');
        out.push_str(pick(&mut rng, WORDS));
    }
    out.push('.');
    out.push_str(pick(&mut rng, TLDS));
}

/// A random flood name: a random label under one of `parents` (a "water torture" query).
pub fn flood_name(rng: &mut Rng, parents: &[String], out: &mut String) {
    label(rng, out, 8, 16);
    out.push('.');
    out.push_str(&parents[rng.below(parents.len() as u64) as usize]);
}

/// A public unicast IPv4 address from `h` (no private, loopback, link-local, CGN, multicast,
/// reserved or documentation ranges).
pub fn public_v4(h: u64) -> [u8; 4] {
    let mut h = h;
    loop {
        let a = (h as u32).to_be_bytes();
        let bad = matches!(a[0], 0 | 10 | 127 | 224..=255)
            || (a[0] == 100 && (64..128).contains(&a[1]))
            || (a[0] == 169 && a[1] == 254)
            || (a[0] == 172 && (16..32).contains(&a[1]))
            || (a[0] == 192 && (a[1] == 168 || (a[1] == 0 && (a[2] == 0 || a[2] == 2))))
            || (a[0] == 198 && (a[1] == 18 || a[1] == 19 || (a[1] == 51 && a[2] == 100)))
            || (a[0] == 203 && a[1] == 0 && a[2] == 113)
            || a[3] == 0
            || a[3] == 255;
        if !bad {
            return a;
        }
        h = super::rng::mix64(h);
    }
}

pub fn pool_addr(seed: u64, index: u64) -> [u8; 4] {
    public_v4(hash3(D_POOL_ADDR, seed, index))
}

pub fn planted_addr(seed: u64, index: u64) -> [u8; 4] {
    public_v4(hash3(D_PLANTED_ADDR, seed, index))
}

pub fn feed_addr(seed: u64, index: u64) -> [u8; 4] {
    public_v4(hash3(D_FEED_ADDR, seed, index))
}

fn pick(rng: &mut Rng, list: &[&'static str]) -> &'static str {
    list[rng.below(list.len() as u64) as usize]
}
