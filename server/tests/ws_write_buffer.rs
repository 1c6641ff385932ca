//! Our tungstenite patch (patches/tungstenite-0.30.0.patch): a websocket does not keep its
//! write buffer once the buffer is written out. Upstream keeps it for the connection's life,
//! as large as the largest frame ever sent, which on a server of mostly idle sockets was a
//! buffer per socket of whatever size the last burst left.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicIsize, Ordering};

use tungstenite::protocol::{Message, Role, WebSocket};

/// Counts the bytes allocated and not yet freed, process-wide: this file holds one test, so
/// nothing else allocates while it measures.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's layout, passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A peer that takes every byte written and never sends any.
struct Peer;

impl Read for Peer {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_socket_keeps_no_write_buffer_once_a_large_frame_is_sent() {
    let mut ws = WebSocket::from_raw_socket(Peer, Role::Server, None);
    // A first small frame, so what the socket allocates once is already counted.
    ws.send(Message::text("hello")).unwrap();
    let before = LIVE.load(Ordering::Relaxed);

    // The size of a `users` list with a few thousand people online.
    ws.send(Message::text("x".repeat(256 * 1024))).unwrap();
    let kept = LIVE.load(Ordering::Relaxed) - before;

    assert!(
        kept < 4 * 1024,
        "the socket still holds {kept} bytes after its 256 KiB frame was written out"
    );
    drop(ws);
}
