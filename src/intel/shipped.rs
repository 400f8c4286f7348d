//! The feeds shipped in `feeds/`, compiled into the binary so that an installed sensor has
//! them without any file on disk. `feeds/README.md` says where each one comes from.

/// (display name, contents) of every shipped feed.
pub const FEEDS: &[(&str, &str)] = &[(
    "feeds/uac-0063.txt",
    include_str!("../../feeds/uac-0063.txt"),
)];
