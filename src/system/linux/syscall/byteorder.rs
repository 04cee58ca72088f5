//! The guest's structures are little-endian, a big-endian host's are not:
//! these swap the fields of a structure's bytes between the two orders
//! (both directions are the same swap; on a little-endian host, nothing).

/// Reverses the byte order of each `word`-byte field of `b`.
pub fn swap_words(b: &mut [u8], word: usize) {
    if cfg!(target_endian = "big") && word > 1 {
        b.chunks_exact_mut(word).for_each(|w| w.reverse());
    }
}

/// A structure's fields from its start, as runs of (field bytes, fields).
pub type Layout = &'static [(usize, usize)];

/// The bytes of a structure laid out as `layout`.
pub const fn size(layout: Layout) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < layout.len() {
        n += layout[i].0 * layout[i].1;
        i += 1;
    }
    n
}

/// Swaps each field of the structure in `b`, laid out as `layout`.
pub fn swap_fields(b: &mut [u8], layout: Layout) {
    let mut at = 0;
    for &(word, count) in layout {
        swap_words(&mut b[at..at + word * count], word);
        at += word * count;
    }
}
