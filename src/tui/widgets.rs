//! Small widgets the panes share: big numbers drawn from an 8×8 bitmap font with quadrant
//! blocks (4 cells wide, 4 rows high per character), and a text progress bar.

pub use crate::types::{pct, short_duration, short_labels};
use font8x8::UnicodeFonts;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;

/// Text in big characters, each 8×8 pixels drawn as 4×4 cells of quadrant blocks.
pub struct BigText<'a> {
    pub text: &'a str,
    pub style: Style,
}

/// The quadrant block for four pixels: top-left, top-right, bottom-left, bottom-right.
fn quadrant(tl: bool, tr: bool, bl: bool, br: bool) -> char {
    const CHARS: [char; 16] = [' ', '▘', '▝', '▀', '▖', '▌', '▞', '▛', '▗', '▚', '▐', '▜', '▄', '▙', '▟', '█'];
    CHARS[tl as usize | (tr as usize) << 1 | (bl as usize) << 2 | (br as usize) << 3]
}

impl BigText<'_> {
    /// Cells the text needs: (width, height).
    pub fn size(&self) -> (u16, u16) {
        (self.text.chars().count() as u16 * 4, 4)
    }
}

impl Widget for BigText<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        for (i, ch) in self.text.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS.get(ch).unwrap_or([0; 8]);
            let on = |x: usize, y: usize| glyph[y] & (1 << x) != 0;
            for row in 0..4u16 {
                for col in 0..4u16 {
                    let (x, y) = (area.x + i as u16 * 4 + col, area.y + row);
                    if x >= area.right() || y >= area.bottom() {
                        continue;
                    }
                    let (px, py) = (col as usize * 2, row as usize * 2);
                    let c = quadrant(on(px, py), on(px + 1, py), on(px, py + 1), on(px + 1, py + 1));
                    buf[(x, y)].set_char(c).set_style(self.style);
                }
            }
        }
    }
}

/// A bar of `width` cells filled to `ratio` (0–1), e.g. `▰▰▰▱▱`.
pub fn text_bar(ratio: f64, width: usize) -> String {
    let filled = ((ratio.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{}", "▰".repeat(filled), "▱".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_text_draws_glyphs_in_quadrants() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 8, 4));
        BigText { text: "1", style: Style::new() }.render(Rect::new(0, 0, 8, 4), &mut buf);
        let drawn: String =
            (0..4).flat_map(|y| (0..4).map(move |x| (x, y))).map(|(x, y)| buf[(x, y)].symbol().to_string()).collect();
        assert!(drawn.chars().any(|c| c != ' '), "a 1 leaves marks");
        assert_eq!(BigText { text: "92.5%", style: Style::new() }.size(), (20, 4));
    }

    #[test]
    fn bars_durations_and_percentages() {
        assert_eq!(text_bar(0.5, 4), "▰▰▱▱");
        assert_eq!(text_bar(2.0, 3), "▰▰▰");
        assert_eq!(short_duration(42.2), "42s");
        assert_eq!(short_duration(185.0), "3m05s");
        assert_eq!(short_duration(3720.0), "1h02m");
        assert_eq!(pct(Some(0.9234)), "92.3%");
        assert_eq!(pct(None), "-");
    }
}
