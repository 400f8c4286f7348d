//! The TCP states of a worker's flows, in one slab of their own: a flow holds a 4-byte
//! [`TcpStateId`], not a box.
//!
//! On traffic of many short connections (a scan, a flood, a busy proxy) every second packet
//! or so opens or closes a flow's TCP state, and the packets that read one come thousands of
//! packets apart: each read waits for memory. Boxes from the allocator cost an allocation and
//! a free per connection (a full flow table ends a quarter of its flows at once, far more than
//! any list of spare boxes keeps), and they lay on 4 KB pages, which the TLB covers little
//! of (glibc's heap on huge pages alone made a flood 3 % faster). Here the states sit in a
//! vector on huge pages once it is large (see `crate::hugepages`), and a released state's
//! slot goes to a free list, from which the next connection takes it (last released first:
//! the warmest).
//!
//! Limits: the slab holds at most as many states as flows hold at once (each flow holds at
//! most one), so it is bounded by the flow table's limit: 208 bytes a state, about 42 MB for
//! 200 000 TCP flows with state, and up to twice that in room, since it grows by doubling. It
//! does not shrink: after a burst its memory stays for the next one, as the flow table's
//! does (the list of spare boxes it replaced kept at most 4 096). A released state is reset (its buffers freed), so the
//! free slots hold no payload.

use std::num::NonZeroU32;

use super::{Side, TcpState};

/// A flow's TCP state in [`TcpStates`]: its slot plus one, so that an absent state
/// (`Option<TcpStateId>`) takes no more room than a present one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpStateId(NonZeroU32);

impl TcpStateId {
    /// The id of slot `slot` (`slot` < [`u32::MAX`]: there are fewer flows).
    #[inline(always)]
    fn at(slot: usize) -> Self {
        let id = u32::try_from(slot + 1).ok().and_then(NonZeroU32::new);
        TcpStateId(id.expect("fewer TCP states than flows, and fewer flows than 2^32 - 1"))
    }

    #[inline(always)]
    fn slot(self) -> usize {
        self.0.get() as usize - 1
    }
}

/// The TCP states of one worker's flows.
#[derive(Default)]
pub struct TcpStates {
    slab: Vec<TcpState>,
    /// Slots released, to be taken again (last released first).
    free: Vec<u32>,
}

impl TcpStates {
    /// A fresh state: a released slot (reset when it was released), or a new one.
    #[inline]
    pub fn take(&mut self) -> TcpStateId {
        if let Some(at) = self.free.pop() {
            return TcpStateId::at(at as usize);
        }
        let at = self.slab.len();
        crate::hugepages::push_doubling(&mut self.slab, TcpState::default());
        TcpStateId::at(at)
    }

    /// The state `id` names.
    #[inline]
    pub fn get_mut(&mut self, id: TcpStateId) -> &mut TcpState {
        &mut self.slab[id.slot()]
    }

    /// The state `id` names, to read.
    #[inline]
    pub fn get(&self, id: TcpStateId) -> &TcpState {
        &self.slab[id.slot()]
    }

    /// Ask for the lines of `id`'s state that a segment from `side` reads, or, with no id, of
    /// the state [`Self::take`] would hand out next (when it would reuse one).
    #[inline]
    pub fn prefetch(&self, id: Option<TcpStateId>, side: Side) {
        let at = id.map(TcpStateId::slot);
        let at = at.or_else(|| self.free.last().map(|&at| at as usize));
        if let Some(state) = at.and_then(|at| self.slab.get(at)) {
            crate::prefetch::all(&state.reassembly[side.index()]);
            crate::prefetch::all(&state.streams[side.index()]);
        }
    }

    /// Ask for every line of `id`'s state (which releasing it reads).
    #[inline]
    pub fn prefetch_whole(&self, id: TcpStateId) {
        if let Some(state) = self.slab.get(id.slot()) {
            crate::prefetch::all(state);
        }
    }

    /// Release `id`'s state (reset: its buffers freed) for the next flow that needs one.
    #[inline]
    pub fn give(&mut self, id: Option<TcpStateId>) {
        if let Some(id) = id {
            self.slab[id.slot()] = TcpState::default();
            self.free.push(id.slot() as u32);
        }
    }

    /// States held by flows.
    #[cfg(test)]
    pub fn in_use(&self) -> usize {
        self.slab.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_come_back_reset_and_their_slots_are_taken_again() {
        let mut states = TcpStates::default();
        let used = states.take();
        let mut found = 0;
        states.get_mut(used).streams[0].data(
            b"GET / HTTP/1.1\r\nHost: a.example\r\n",
            false,
            false,
            &mut Vec::new(),
            &mut |_| found += 1,
        );
        assert_eq!(found, 0, "the head is not complete");
        assert!(states.get(used).streams[0].buffered() > 0);
        assert_eq!(states.in_use(), 1);
        states.give(Some(used));
        states.give(None);
        assert_eq!(states.in_use(), 0);
        let again = states.take();
        assert_eq!(again, used, "the released slot is taken again");
        assert_eq!(
            states.get(again).streams[0].buffered(),
            0,
            "and comes back empty"
        );
        let more: Vec<_> = (0..1000).map(|_| states.take()).collect();
        assert_eq!(states.in_use(), 1001);
        let mut distinct = more.clone();
        distinct.push(again);
        distinct.sort_by_key(|id| id.slot());
        distinct.dedup();
        assert_eq!(distinct.len(), 1001, "no slot is handed out twice");
        for id in more {
            states.give(Some(id));
        }
        assert_eq!(states.in_use(), 1);
        assert_eq!(states.slab.len(), 1001, "slots are reused, not added");
        let _ = states.take();
        assert_eq!(states.slab.len(), 1001);
    }
}
