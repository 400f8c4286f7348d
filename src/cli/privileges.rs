//! Dropping root once the privileged work is done: the interfaces are open and the output
//! file exists. The alternative, documented in the README, is to never be root: grant the
//! binary CAP_NET_RAW and CAP_NET_ADMIN (setcap, or the systemd unit's AmbientCapabilities).

use std::ffi::CString;

/// Switch to `user` (and `group`, or the user's primary group), with the user's
/// supplementary groups. Errors say what went wrong.
pub fn drop_to(user: &str, group: Option<&str>) -> Result<(), String> {
    let c_user = CString::new(user).map_err(|_| format!("--user {user:?}: not a user name"))?;
    // SAFETY: getpwnam returns a pointer into static storage or null; we copy what we need
    // before any other call that could overwrite it.
    let pw = unsafe { libc::getpwnam(c_user.as_ptr()) };
    if pw.is_null() {
        return Err(format!("--user {user}: no such user"));
    }
    let (uid, mut gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    if let Some(group) = group {
        let c_group =
            CString::new(group).map_err(|_| format!("--group {group:?}: not a group name"))?;
        // SAFETY: as for getpwnam.
        let gr = unsafe { libc::getgrnam(c_group.as_ptr()) };
        if gr.is_null() {
            return Err(format!("--group {group}: no such group"));
        }
        gid = unsafe { (*gr).gr_gid };
    }
    // SAFETY: plain system calls on integers and a valid C string; their results are checked.
    unsafe {
        if libc::initgroups(c_user.as_ptr(), gid) != 0 {
            return Err(format!(
                "--user {user}: cannot set supplementary groups: {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setgid(gid) != 0 {
            return Err(format!(
                "--group: cannot switch to group {gid}: {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setuid(uid) != 0 {
            return Err(format!(
                "--user {user}: cannot switch to uid {uid}: {}",
                std::io::Error::last_os_error()
            ));
        }
        if uid != 0 && libc::setuid(0) == 0 {
            return Err(format!(
                "--user {user}: root could be regained after dropping it; refusing to go on"
            ));
        }
    }
    Ok(())
}
