//! Turns a terminal capture with colours (`tmux capture-pane -e -p`) into a PNG, for the dashboard
//! screenshots (docs/screenshots/, shown in docs/dashboard.md and the README): text in an 8×8
//! bitmap font, block, braille and box-drawing characters drawn as shapes, the xterm palette for
//! colours.
//!
//! `cargo run --example screenshot -- capture.ans out.png [COLUMNS ROWS]`
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};

const CW: u32 = 8;
const CH: u32 = 16;
const BG: Rgb<u8> = Rgb([24, 24, 27]);
const FG: Rgb<u8> = Rgb([220, 220, 220]);

fn palette(i: u8) -> Rgb<u8> {
    const BASE: [[u8; 3]; 16] = [
        [0, 0, 0],
        [205, 49, 49],
        [13, 188, 121],
        [229, 229, 16],
        [36, 114, 200],
        [188, 63, 188],
        [17, 168, 205],
        [229, 229, 229],
        [102, 102, 102],
        [241, 76, 76],
        [35, 209, 139],
        [245, 245, 67],
        [59, 142, 234],
        [214, 112, 214],
        [41, 184, 219],
        [255, 255, 255],
    ];
    match i {
        0..=15 => Rgb(BASE[i as usize]),
        16..=231 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            Rgb([level(i / 36), level(i / 6 % 6), level(i % 6)])
        }
        _ => {
            let g = 8 + (i - 232) * 10;
            Rgb([g, g, g])
        }
    }
}

fn color(c: vt100::Color, default: Rgb<u8>) -> Rgb<u8> {
    match c {
        vt100::Color::Default => default,
        vt100::Color::Idx(i) => palette(i),
        vt100::Color::Rgb(r, g, b) => Rgb([r, g, b]),
    }
}

struct Cell<'a> {
    img: &'a mut RgbImage,
    x: u32,
    y: u32,
}

impl Cell<'_> {
    fn fill(&mut self, x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb<u8>) {
        for y in y0..y1.min(CH) {
            for x in x0..x1.min(CW) {
                self.img.put_pixel(self.x + x, self.y + y, c);
            }
        }
    }

    fn glyph(&mut self, ch: char, c: Rgb<u8>) -> bool {
        let Some(g) = font8x8::BASIC_FONTS.get(ch).or_else(|| font8x8::LATIN_FONTS.get(ch)) else { return false };
        for (row, bits) in g.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) != 0 {
                    self.fill(col, row as u32 * 2, col + 1, row as u32 * 2 + 2, c);
                }
            }
        }
        true
    }

    /// Box drawing from the cell's centre: which of up, down, left, right are drawn.
    fn lines(&mut self, up: bool, down: bool, left: bool, right: bool, c: Rgb<u8>) {
        let (mx, my) = (CW / 2 - 1, CH / 2 - 1);
        if up {
            self.fill(mx, 0, mx + 2, my + 2, c);
        }
        if down {
            self.fill(mx, my, mx + 2, CH, c);
        }
        if left {
            self.fill(0, my, mx + 2, my + 2, c);
        }
        if right {
            self.fill(mx, my, CW, my + 2, c);
        }
    }

    fn draw(&mut self, ch: char, fg: Rgb<u8>) {
        let (w, h) = (CW, CH);
        match ch {
            ' ' => {}
            '▀' => self.fill(0, 0, w, h / 2, fg),
            '▄' => self.fill(0, h / 2, w, h, fg),
            '█' => self.fill(0, 0, w, h, fg),
            '▌' => self.fill(0, 0, w / 2, h, fg),
            '▐' => self.fill(w / 2, 0, w, h, fg),
            '▁'..='▇' => {
                let eighths = ch as u32 - '▁' as u32 + 1;
                self.fill(0, h - h * eighths / 8, w, h, fg)
            }
            '▘' | '▝' | '▖' | '▗' | '▚' | '▞' | '▙' | '▛' | '▜' | '▟' => {
                let q = match ch {
                    '▘' => 1,
                    '▝' => 2,
                    '▖' => 4,
                    '▗' => 8,
                    '▚' => 9,
                    '▞' => 6,
                    '▙' => 13,
                    '▛' => 7,
                    '▜' => 11,
                    _ => 14,
                };
                for (bit, (x, y)) in [(1, (0, 0)), (2, (w / 2, 0)), (4, (0, h / 2)), (8, (w / 2, h / 2))] {
                    if q & bit != 0 {
                        self.fill(x, y, x + w / 2, y + h / 2, fg);
                    }
                }
            }
            '\u{2800}'..='\u{28ff}' => {
                let bits = ch as u32 - 0x2800;
                let dots = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)];
                for (i, (cx, cy)) in dots.iter().enumerate() {
                    if bits & (1 << i) != 0 {
                        let (x, y) = (1 + cx * 4, 1 + cy * 4);
                        self.fill(x, y, x + 2, y + 2, fg);
                    }
                }
            }
            '─' => self.lines(false, false, true, true, fg),
            '│' => self.lines(true, true, false, false, fg),
            '┌' => self.lines(false, true, false, true, fg),
            '┐' => self.lines(false, true, true, false, fg),
            '└' => self.lines(true, false, false, true, fg),
            '┘' => self.lines(true, false, true, false, fg),
            '├' => self.lines(true, true, false, true, fg),
            '┤' => self.lines(true, true, true, false, fg),
            '┬' => self.lines(false, true, true, true, fg),
            '┴' => self.lines(true, false, true, true, fg),
            '┼' => self.lines(true, true, true, true, fg),
            '▰' => self.fill(1, 4, w - 1, h - 4, fg),
            '▱' => {
                self.fill(1, 4, w - 1, 5, fg);
                self.fill(1, h - 5, w - 1, h - 4, fg);
                self.fill(1, 4, 2, h - 4, fg);
                self.fill(w - 2, 4, w - 1, h - 4, fg);
            }
            '●' => self.fill(1, 4, w - 1, h - 4, fg),
            '▏' => self.fill(0, 0, 1, h, fg),
            '…' => {
                for x in [1, 4, 7] {
                    self.fill(x - 1, h - 5, x, h - 4, fg);
                }
            }
            other => {
                let fallback = match other {
                    '✓' => 'v',
                    '–' | '—' => '-',
                    '≈' => '~',
                    '⚠' => '!',
                    '→' => '>',
                    '←' => '<',
                    '↑' => '^',
                    '↓' => 'v',
                    '×' => 'x',
                    _ => '?',
                };
                if !self.glyph(other, fg) {
                    self.glyph(fallback, fg);
                }
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: screenshot CAPTURE.ans OUT.png [COLUMNS ROWS]");
        std::process::exit(2);
    }
    let text = std::fs::read(&args[1]).expect("the capture file can be read");
    let cols: u16 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(120);
    let rows: u16 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(36);
    let mut parser = vt100::Parser::new(rows, cols, 0);
    // tmux ends lines with \n only; the terminal model needs \r\n.
    // The last line's newline would scroll the screen by one.
    let text = text.strip_suffix(b"\n").unwrap_or(&text);
    let fixed: Vec<u8> = text.iter().flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] }).collect();
    parser.process(&fixed);
    let screen = parser.screen();
    let mut img = RgbImage::from_pixel(cols as u32 * CW, rows as u32 * CH, BG);
    for r in 0..rows {
        for c in 0..cols {
            let Some(cell) = screen.cell(r, c) else { continue };
            let (mut fg, mut bg) = (color(cell.fgcolor(), FG), color(cell.bgcolor(), BG));
            if cell.inverse() {
                std::mem::swap(&mut fg, &mut bg);
            }
            let mut px = Cell { img: &mut img, x: c as u32 * CW, y: r as u32 * CH };
            px.fill(0, 0, CW, CH, bg);
            if let Some(ch) = cell.contents().chars().next() {
                px.draw(ch, fg);
            }
        }
    }
    img.save(&args[2]).expect("the PNG can be written");
    println!("wrote {}", args[2]);
}
