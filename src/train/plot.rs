//! A run as one PNG: the loss per step, train and test accuracy per epoch, and the per-class
//! test accuracy as sorted bars with the 10 best highlighted. Drawn with `image` and an 8×8
//! bitmap font, so it needs no system fonts.

use super::metrics::{pct, EpochMetrics};
use crate::error::{Error, Result};
use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};
use std::path::Path;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 900;
const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([40, 40, 40]);
const GRID: Rgb<u8> = Rgb([225, 225, 225]);
const BLUE: Rgb<u8> = Rgb([31, 119, 180]);
const ORANGE: Rgb<u8> = Rgb([255, 127, 14]);
const GREEN: Rgb<u8> = Rgb([44, 160, 44]);
const GREY: Rgb<u8> = Rgb([160, 160, 160]);

/// A rectangle of the canvas: left, top, width, height.
#[derive(Clone, Copy)]
struct Area {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
}

struct Canvas(RgbImage);

impl Canvas {
    fn put(&mut self, x: i64, y: i64, c: Rgb<u8>) {
        if x >= 0 && y >= 0 && (x as u32) < self.0.width() && (y as u32) < self.0.height() {
            self.0.put_pixel(x as u32, y as u32, c);
        }
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb<u8>) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.put(xx, yy, c);
            }
        }
    }

    /// A line two pixels thick.
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb<u8>) {
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
        for i in 0..=steps {
            let x = x0 + (x1 - x0) * i / steps;
            let y = y0 + (y1 - y0) * i / steps;
            self.rect(x, y, 2, 2, c);
        }
    }

    /// Text in the 8×8 font at `scale`; characters the font lacks are drawn as `?`.
    fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, c: Rgb<u8>) {
        for (i, ch) in s.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS
                .get(ch)
                .or_else(|| font8x8::LATIN_FONTS.get(ch))
                .or_else(|| font8x8::BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let px = x + (i as i64 * 8 + col) * scale;
                        self.rect(px, y + row as i64 * scale, scale, scale, c);
                    }
                }
            }
        }
    }

    /// A framed panel with a title, horizontal grid lines and y labels from `lo` to `hi`.
    fn panel(&mut self, a: Area, title: &str, lo: f64, hi: f64, percent: bool) {
        self.text(a.x, a.y - 22, title, 2, INK);
        for i in 0..=4 {
            let y = a.y + a.h - a.h * i / 4;
            self.rect(a.x, y, a.w, 1, GRID);
            let v = lo + (hi - lo) * i as f64 / 4.0;
            let label = if percent { format!("{:.0}%", v * 100.0) } else { format!("{v:.2}") };
            self.text(a.x - 8 * label.len() as i64 - 6, y - 4, &label, 1, INK);
        }
        self.rect(a.x, a.y, 1, a.h, INK);
        self.rect(a.x, a.y + a.h, a.w, 1, INK);
    }
}

fn to_px(a: Area, x: f64, y: f64, (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> (i64, i64) {
    let fx = if x1 > x0 { (x - x0) / (x1 - x0) } else { 0.5 };
    let fy = if y1 > y0 { (y - y0) / (y1 - y0) } else { 0.5 };
    (a.x + (fx * a.w as f64).round() as i64, a.y + a.h - (fy * a.h as f64).round() as i64)
}

/// Draws the run. `steps` are (step, epoch, loss); `epochs` the per-epoch metrics.
pub fn render(title: &str, steps: &[(u64, u32, f32)], epochs: &[EpochMetrics]) -> RgbImage {
    let mut c = Canvas(RgbImage::from_pixel(WIDTH, HEIGHT, WHITE));
    c.text(20, 14, title, 2, INK);

    // Loss per step.
    let loss = Area { x: 80, y: 80, w: 480, h: 300 };
    let hi = steps.iter().map(|s| s.2 as f64).fold(0.0, f64::max).max(1e-6);
    c.panel(loss, "loss per step", 0.0, hi, false);
    let last_step = steps.last().map_or(1, |s| s.0).max(1) as f64;
    let pts: Vec<(i64, i64)> =
        steps.iter().map(|s| to_px(loss, s.0 as f64, s.2 as f64, (0.0, last_step), (0.0, hi))).collect();
    pts.windows(2).for_each(|w| c.line(w[0], w[1], BLUE));
    c.text(loss.x, loss.y + loss.h + 8, "0", 1, INK);
    let end = format!("step {}", last_step as u64);
    c.text(loss.x + loss.w - 8 * end.len() as i64, loss.y + loss.h + 8, &end, 1, INK);

    // Accuracy per epoch.
    let acc = Area { x: 700, y: 80, w: 460, h: 300 };
    c.panel(acc, "accuracy per epoch", 0.0, 1.0, true);
    let n = epochs.len().max(2) as f64;
    for (color, pick) in [
        (BLUE, (|m: &EpochMetrics| Some(m.train_accuracy)) as fn(&EpochMetrics) -> Option<f64>),
        (ORANGE, |m: &EpochMetrics| m.test_accuracy),
    ] {
        let pts: Vec<(i64, i64)> = epochs
            .iter()
            .filter_map(|m| pick(m).map(|v| to_px(acc, m.epoch as f64, v, (1.0, n), (0.0, 1.0))))
            .collect();
        pts.windows(2).for_each(|w| c.line(w[0], w[1], color));
        pts.iter().for_each(|p| c.rect(p.0 - 3, p.1 - 3, 7, 7, color));
    }
    c.rect(acc.x + 10, acc.y + acc.h + 12, 12, 8, BLUE);
    c.text(acc.x + 28, acc.y + acc.h + 12, "train", 1, INK);
    c.rect(acc.x + 90, acc.y + acc.h + 12, 12, 8, ORANGE);
    c.text(acc.x + 108, acc.y + acc.h + 12, "test", 1, INK);
    let end = format!("epoch {}", epochs.last().map_or(0, |m| m.epoch));
    c.text(acc.x + acc.w - 8 * end.len() as i64, acc.y + acc.h + 12, &end, 1, INK);

    // Per-class test accuracy, best first; the 10 best in green.
    let bars = Area { x: 80, y: 500, w: 1080, h: 340 };
    c.panel(bars, "test accuracy per class (10 best in green)", 0.0, 1.0, true);
    if let Some(last) = epochs.last() {
        let k = last.per_class.len().max(1) as i64;
        let slot = (bars.w / k).max(1);
        // Labels of 8-pixel characters that end before the next bar's (told apart where cut).
        let chars = ((slot - slot / 8 - 4) / 8).max(1) as usize;
        let titles: Vec<&str> = last.per_class.iter().map(|c| c.title.as_str()).collect();
        let names = crate::types::short_labels(&titles, chars);
        for (i, class) in last.per_class.iter().enumerate() {
            let h = (class.accuracy * bars.h as f64).round() as i64;
            let x = bars.x + i as i64 * slot + slot / 8;
            c.rect(x, bars.y + bars.h - h, (slot * 3 / 4).max(1), h, if i < 10 { GREEN } else { GREY });
            if slot >= 40 {
                c.text(x, bars.y + bars.h + 8, &names[i], 1, INK);
            }
        }
        let summary = format!(
            "top-10 class accuracy {}   macro accuracy {}   classes {}",
            pct(last.top10_class_accuracy),
            pct(last.macro_accuracy),
            last.per_class.len()
        );
        c.text(bars.x, bars.y + bars.h + 34, &summary, 2, INK);
    }
    c.0
}

/// Renders the run and writes it as a PNG (whole, see [`crate::save`]).
pub fn save_png(path: &Path, title: &str, steps: &[(u64, u32, f32)], epochs: &[EpochMetrics]) -> Result<()> {
    let mut png = std::io::Cursor::new(Vec::new());
    render(title, steps, epochs)
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| Error::File { path: path.to_path_buf(), reason: format!("cannot write the plot ({e})") })?;
    crate::save::atomically(path, png.get_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::metrics::ClassAccuracy;

    fn epoch(e: u32, train: f64, test: f64) -> EpochMetrics {
        EpochMetrics {
            epoch: e,
            train_loss: 1.0 / e as f64,
            train_accuracy: train,
            test_loss: Some(1.5 / e as f64),
            test_accuracy: Some(test),
            top10_class_accuracy: Some(test),
            macro_accuracy: Some(test),
            per_class: (0..12)
                .map(|i| ClassAccuracy { title: format!("video {i}"), accuracy: 1.0 - i as f64 / 12.0, frames: 5 })
                .collect(),
            confused: vec![],
            seconds: 0.1,
        }
    }

    #[test]
    fn draws_curves_and_highlighted_bars() {
        let steps: Vec<(u64, u32, f32)> = (0..50).map(|s| (s, (s / 10) as u32 + 1, 2.0 / (1.0 + s as f32))).collect();
        let img = render("run 1", &steps, &[epoch(1, 0.5, 0.4), epoch(2, 0.8, 0.7), epoch(3, 0.9, 0.8)]);
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        let count = |c: Rgb<u8>| img.pixels().filter(|p| **p == c).count();
        assert!(count(BLUE) > 500, "loss and train curves are drawn");
        assert!(count(ORANGE) > 100, "the test curve is drawn");
        assert!(count(GREEN) > count(GREY), "ten green bars, two grey ones (the grey one shorter)");
        assert!(count(GREY) > 0);
    }

    /// Long class names end before the next bar's label starts (the old labels ran into each
    /// other once a bar's slot was wider than 64 pixels).
    #[test]
    fn class_labels_never_run_into_each_other() {
        let mut e = epoch(1, 0.5, 0.5);
        e.per_class.truncate(5);
        for (i, c) in e.per_class.iter_mut().enumerate() {
            c.title = format!("Mandela Day, a very long title indeed ({i})");
        }
        let img = render("run 1", &[(0, 1, 1.0), (1, 1, 0.5)], &[e]);
        let (x0, y0, slot) = (80i64, 500 + 340 + 8, 1080 / 5);
        for i in 1..5 {
            let start = x0 + i * slot + slot / 8;
            let ink = (start - 4..start).any(|x| (y0..y0 + 8).any(|y| *img.get_pixel(x as u32, y as u32) == INK));
            assert!(!ink, "label {} reaches label {i}", i - 1);
        }
        let left = (x0 + slot / 8..x0 + slot).any(|x| (y0..y0 + 8).any(|y| *img.get_pixel(x as u32, y as u32) == INK));
        assert!(left, "the first label is drawn");
    }
}
