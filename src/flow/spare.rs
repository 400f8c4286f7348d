//! Spare TCP states: the boxes of flows whose TCP state was let go, kept for the next flows
//! that need one. On traffic of many short connections (a scan, a flood, a busy proxy) every
//! second packet or so opens or closes a flow's TCP state; reusing the boxes keeps that off the
//! allocator, whose slow path a burst of frees otherwise reaches (a full flow table ends a
//! quarter of its flows at once). At most [`MAX_SPARE`] boxes are kept, each reset (buffers
//! freed) when it comes back, so the spares hold no payload and under 1 MB per worker.

use super::TcpState;

/// Most boxes kept.
pub const MAX_SPARE: usize = 4096;

/// Boxes of [`TcpState`] to reuse.
#[derive(Default)]
#[allow(clippy::vec_box)] // the boxes themselves are what is reused
pub struct SpareTcpStates(Vec<Box<TcpState>>);

impl SpareTcpStates {
    /// A fresh state: a spare one reset, or a new one.
    #[inline]
    pub fn take(&mut self) -> Box<TcpState> {
        self.0.pop().unwrap_or_default()
    }

    /// Keep `state`'s box for later (reset), unless enough are kept already.
    #[inline]
    pub fn give(&mut self, state: Option<Box<TcpState>>) {
        if let Some(mut state) = state {
            if self.0.len() < MAX_SPARE {
                *state = TcpState::default();
                self.0.push(state);
            }
        }
    }

    /// Boxes kept.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_come_back_reset_and_the_spares_stay_bounded() {
        let mut spare = SpareTcpStates::default();
        let mut used = spare.take();
        let mut found = 0;
        used.streams[0].data(
            b"GET / HTTP/1.1\r\nHost: a.example\r\n",
            false,
            false,
            &mut Vec::new(),
            &mut |_| found += 1,
        );
        assert_eq!(found, 0, "the head is not complete");
        assert!(used.streams[0].buffered() > 0);
        let address = &*used as *const TcpState;
        spare.give(Some(used));
        let again = spare.take();
        assert_eq!(
            &*again as *const TcpState, address,
            "the same box is reused"
        );
        assert_eq!(again.streams[0].buffered(), 0, "and comes back empty");
        for _ in 0..MAX_SPARE + 10 {
            spare.give(Some(Box::default()));
        }
        spare.give(None);
        assert_eq!(spare.kept(), MAX_SPARE);
    }
}
