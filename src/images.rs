//! Pictures in the terminal, for both frontends: which graphics protocol to use, and the query
//! frame composed beside its matched frame. The dashboard draws through ratatui-image's picker;
//! `similar --preview` prints with viuer.

use image::{imageops, DynamicImage, Rgb, RgbImage};
use ratatui_image::picker::{Picker, ProtocolType};

/// How inline images are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Graphics {
    /// Detect what the terminal supports.
    Auto,
    Kitty,
    Sixel,
    Iterm2,
    /// Unicode half blocks: works over plain SSH and in tmux.
    Halfblocks,
    /// No images; print the frame files instead.
    None,
}

impl Graphics {
    /// The names it is written as on the command line.
    pub const NAMES: &'static [&'static str] = &["auto", "kitty", "sixel", "iterm2", "halfblocks", "none"];
}

impl std::str::FromStr for Graphics {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "auto" => Graphics::Auto,
            "kitty" => Graphics::Kitty,
            "sixel" => Graphics::Sixel,
            "iterm2" => Graphics::Iterm2,
            "halfblocks" => Graphics::Halfblocks,
            "none" => Graphics::None,
            other => return Err(format!("`{other}` is not a graphics mode; use one of: {}", Self::NAMES.join(", "))),
        })
    }
}

/// Reads and decodes an image file, or `None` when it cannot be (a frame a view shows is
/// optional). Never on the dashboard's drawing thread.
pub fn open(path: &std::path::Path) -> Option<DynamicImage> {
    crate::blocking::off_drawing_thread("decode an image file");
    image::open(path).ok()
}

/// Whether this looks like a terminal inside tmux or screen.
fn in_tmux() -> bool {
    std::env::var_os("TMUX").is_some()
        || std::env::var("TERM").is_ok_and(|t| t.starts_with("screen") || t.starts_with("tmux"))
}

/// The dashboard's picker: detected, forced, or none (no images). Queries the terminal, so call
/// it once, before the dashboard reads keys.
pub fn picker(graphics: Graphics) -> Option<Picker> {
    let forced = match graphics {
        Graphics::None => return None,
        Graphics::Halfblocks => return Some(Picker::halfblocks()),
        Graphics::Kitty => Some(ProtocolType::Kitty),
        Graphics::Sixel => Some(ProtocolType::Sixel),
        Graphics::Iterm2 => Some(ProtocolType::Iterm2),
        Graphics::Auto => None,
    };
    // Inside tmux the terminal query usually goes unanswered, and ratatui-image's reader thread
    // then swallows the first key pressed: use half blocks there unless told otherwise.
    if forced.is_none() && in_tmux() {
        return Some(Picker::halfblocks());
    }
    let mut p = Picker::from_query_stdio().unwrap_or_else(|e| {
        tracing::info!("terminal graphics query failed ({e}); using half blocks");
        Picker::halfblocks()
    });
    if let Some(t) = forced {
        p.set_protocol_type(t);
    }
    tracing::info!(protocol = ?p.protocol_type(), "inline images");
    Some(p)
}

/// Pixels between the two frames of a pair.
const GAP: u32 = 8;

/// `left` and `right` side by side at the same height (the taller's, at most 360 pixels), on
/// black; a missing one leaves its half empty.
pub fn side_by_side(left: Option<&DynamicImage>, right: Option<&DynamicImage>) -> RgbImage {
    let height = [left, right].iter().flatten().map(|i| i.height()).max().unwrap_or(90).clamp(16, 360);
    let scaled = |img: Option<&DynamicImage>| {
        img.map(|i| {
            let width = (i.width() as f64 * height as f64 / i.height().max(1) as f64).round().max(1.0) as u32;
            i.resize_exact(width, height, imageops::FilterType::Triangle).to_rgb8()
        })
    };
    let (l, r) = (scaled(left), scaled(right));
    let half = |i: &Option<RgbImage>| i.as_ref().map_or(height * 16 / 9, |i| i.width());
    let mut out = RgbImage::from_pixel(half(&l) + GAP + half(&r), height, Rgb([0, 0, 0]));
    if let Some(l) = &l {
        imageops::replace(&mut out, l, 0, 0);
    }
    if let Some(r) = &r {
        imageops::replace(&mut out, r, (half(&l) + GAP) as i64, 0);
    }
    out
}

/// Prints `caption`, then `pair` (see [`side_by_side`]) in at most `columns` terminal columns.
pub fn print_pair(pair: &RgbImage, caption: &str, graphics: Graphics, columns: u16) -> std::io::Result<()> {
    use std::io::Write;
    print!("{caption}\r\n");
    let mut c = viuer::Config {
        width: Some(u32::from(columns.saturating_sub(2)).clamp(16, 120)),
        absolute_offset: false,
        restore_cursor: false,
        ..Default::default()
    };
    match graphics {
        Graphics::Halfblocks | Graphics::Sixel => {
            c.use_kitty = false;
            c.use_iterm = false;
        }
        Graphics::Kitty => c.use_iterm = false,
        Graphics::Iterm2 => c.use_kitty = false,
        Graphics::Auto | Graphics::None => {}
    }
    if graphics != Graphics::None {
        viuer::print(&DynamicImage::ImageRgb8(pair.clone()), &c).map_err(std::io::Error::other)?;
    }
    print!("\r\n");
    std::io::stdout().flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_share_a_height_and_keep_both_halves() {
        let red = DynamicImage::ImageRgb8(RgbImage::from_pixel(160, 90, Rgb([255, 0, 0])));
        let blue = DynamicImage::ImageRgb8(RgbImage::from_pixel(90, 180, Rgb([0, 0, 255])));
        let pair = side_by_side(Some(&red), Some(&blue));
        assert_eq!(pair.height(), 180);
        assert_eq!(pair.width(), 320 + GAP + 90);
        assert_eq!(pair.get_pixel(10, 10), &Rgb([255, 0, 0]));
        assert_eq!(pair.get_pixel(320 + GAP + 10, 10), &Rgb([0, 0, 255]));
        let alone = side_by_side(None, Some(&blue));
        assert_eq!(alone.get_pixel(5, 5), &Rgb([0, 0, 0]), "a missing frame leaves its half empty");
        assert_eq!("halfblocks".parse::<Graphics>(), Ok(Graphics::Halfblocks));
        assert!("vga".parse::<Graphics>().unwrap_err().contains("halfblocks"));
    }
}
