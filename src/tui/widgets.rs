//! Small widgets the panes share: big numbers drawn from an 8×8 bitmap font with quadrant
//! blocks (4 cells wide, 4 rows high per character), and a text progress bar.

pub use crate::types::{pct, short_duration};
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

/// Each title in at most `width` characters, told apart: a long one keeps its start and end
/// around `…` (`Mandela Day` → `Man…Day`), and titles that still read the same are numbered.
pub fn short_labels(titles: &[&str], width: usize) -> Vec<String> {
    let shorten = |t: &str| -> String {
        let n = t.chars().count();
        if n <= width {
            return t.to_string();
        }
        if width < 3 {
            return t.chars().take(width).collect();
        }
        let head = (width - 1).div_ceil(2);
        let tail = width - 1 - head;
        let start: String = t.chars().take(head).collect();
        let end: String = t.chars().skip(n - tail).collect();
        format!("{start}…{end}")
    };
    let mut labels: Vec<String> = titles.iter().map(|t| shorten(t)).collect();
    let counts = labels.iter().fold(std::collections::HashMap::<String, usize>::new(), |mut m, l| {
        *m.entry(l.clone()).or_default() += 1;
        m
    });
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for label in &mut labels {
        if counts[label.as_str()] > 1 {
            let n = seen.entry(label.clone()).or_default();
            *n += 1;
            let number = n.to_string();
            let keep = width.saturating_sub(number.len());
            *label = format!("{}{number}", label.chars().take(keep).collect::<String>());
        }
    }
    labels
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
    fn short_labels_are_told_apart() {
        let titles = ["Mandela Day", "Mandela Effect", "Starboy", "Mandela Day (live)", "Mandela Day (demo)"];
        let labels = short_labels(&titles, 7);
        assert_eq!(labels[..3], ["Man…Day", "Man…ect", "Starboy"]);
        assert_eq!(labels[3..], ["Man…ve)", "Man…mo)"]);
        assert_eq!(short_labels(&["Intro", "Intro"], 7), ["Intro1", "Intro2"], "the same title twice is numbered");
        assert!(short_labels(&titles, 7).iter().all(|l| l.chars().count() <= 7));
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
