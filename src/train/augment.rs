//! The seed paper's training augmentations on images: a random affine transform (rotation,
//! translation, scale), a Gaussian blur and a random horizontal flip, drawn from a seeded RNG
//! so the same frame and view always give the same image.

use crate::rng::SplitMix64;
use image::{Rgb, RgbImage};

/// One draw of the random augmentation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augmentation {
    /// Rotation, degrees counter-clockwise.
    pub degrees: f32,
    /// Shift as fractions of the width and height.
    pub translate: (f32, f32),
    /// Zoom about the centre.
    pub scale: f32,
    /// Gaussian blur standard deviation, pixels.
    pub blur_sigma: f32,
    pub flip: bool,
}

impl Augmentation {
    /// Draws parameters like torchvision's `RandomAffine(degrees=10, translate=(0.1, 0.1),
    /// scale=(0.9, 1.1))`, `GaussianBlur(sigma=(0.1, 2.0))` and `RandomHorizontalFlip(0.5)`.
    pub fn sample(rng: &mut SplitMix64) -> Self {
        let mut between = |lo: f64, hi: f64| (lo + (hi - lo) * rng.unit()) as f32;
        Augmentation {
            degrees: between(-10.0, 10.0),
            translate: (between(-0.1, 0.1), between(-0.1, 0.1)),
            scale: between(0.9, 1.1),
            blur_sigma: between(0.1, 2.0),
            flip: rng.unit() < 0.5,
        }
    }

    /// The augmentation of view `view` of frame `frame_id`, for a given seed.
    pub fn for_view(seed: u64, frame_id: i64, view: u32) -> Self {
        let mut mix = SplitMix64(seed ^ (frame_id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ((view as u64) << 48));
        mix.next_u64();
        Self::sample(&mut mix)
    }

    /// Applies affine transform, then blur, then flip (the seed's order).
    pub fn apply(&self, img: &RgbImage) -> RgbImage {
        let (w, h) = img.dimensions();
        let shift = (self.translate.0 * w as f32, self.translate.1 * h as f32);
        let moved = affine(img, self.degrees, shift, self.scale);
        let blurred = gaussian_blur(&moved, self.blur_sigma);
        if self.flip {
            image::imageops::flip_horizontal(&blurred)
        } else {
            blurred
        }
    }
}

/// Rotates by `degrees` (counter-clockwise on screen), scales by `scale` about the centre, then
/// shifts by `shift` pixels; uncovered pixels are black. Bilinear sampling.
pub fn affine(img: &RgbImage, degrees: f32, shift: (f32, f32), scale: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let mut out = RgbImage::new(w, h);
    for (x, y, px) in out.enumerate_pixels_mut() {
        // Inverse map: output pixel → source position.
        let (dx, dy) = ((x as f32 - cx - shift.0) / scale, (y as f32 - cy - shift.1) / scale);
        // Screen y points down, so a counter-clockwise turn on screen is clockwise in these axes.
        let sx = cos * dx - sin * dy + cx;
        let sy = sin * dx + cos * dy + cy;
        *px = bilinear(img, sx, sy);
    }
    out
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (w, h) = img.dimensions();
    if x < -0.5 || y < -0.5 || x > w as f32 - 0.5 || y > h as f32 - 0.5 {
        return Rgb([0, 0, 0]);
    }
    let (x, y) = (x.clamp(0.0, w as f32 - 1.0), y.clamp(0.0, h as f32 - 1.0));
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |xx, yy| img.get_pixel(xx, yy).0;
    let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    let mut out = [0u8; 3];
    for ch in 0..3 {
        let top = a[ch] as f32 * (1.0 - fx) + b[ch] as f32 * fx;
        let bottom = c[ch] as f32 * (1.0 - fx) + d[ch] as f32 * fx;
        out[ch] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
    }
    Rgb(out)
}

/// A separable Gaussian blur with radius ⌈3σ⌉; edges repeat the border pixel.
pub fn gaussian_blur(img: &RgbImage, sigma: f32) -> RgbImage {
    if sigma <= 0.0 {
        return img.clone();
    }
    let radius = (3.0 * sigma).ceil() as i64;
    let weights: Vec<f32> = (-radius..=radius).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let total: f32 = weights.iter().sum();
    let kernel: Vec<f32> = weights.iter().map(|w| w / total).collect();
    let pass = |src: &RgbImage, horizontal: bool| {
        let (w, h) = src.dimensions();
        let mut out = RgbImage::new(w, h);
        for (x, y, px) in out.enumerate_pixels_mut() {
            let mut acc = [0f32; 3];
            for (k, weight) in kernel.iter().enumerate() {
                let o = k as i64 - radius;
                let (sx, sy) = if horizontal {
                    ((x as i64 + o).clamp(0, w as i64 - 1) as u32, y)
                } else {
                    (x, (y as i64 + o).clamp(0, h as i64 - 1) as u32)
                };
                let s = src.get_pixel(sx, sy).0;
                (0..3).for_each(|c| acc[c] += s[c] as f32 * weight);
            }
            *px = Rgb(acc.map(|v| v.round().clamp(0.0, 255.0) as u8));
        }
        out
    };
    pass(&pass(img, true), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(w: u32, h: u32, x: u32, y: u32) -> RgbImage {
        let mut img = RgbImage::new(w, h);
        img.put_pixel(x, y, Rgb([255, 255, 255]));
        img
    }

    fn brightest(img: &RgbImage) -> (u32, u32) {
        let (x, y, _) = img.enumerate_pixels().max_by_key(|(_, _, p)| p.0[0]).unwrap();
        (x, y)
    }

    #[test]
    fn flip_mirrors() {
        let img = dot(8, 4, 1, 2);
        let a = Augmentation { degrees: 0.0, translate: (0.0, 0.0), scale: 1.0, blur_sigma: 0.0, flip: true };
        assert_eq!(brightest(&a.apply(&img)), (6, 2));
    }

    #[test]
    fn blur_smooths_and_keeps_flat_images() {
        let mut checker = RgbImage::new(16, 16);
        for (x, y, p) in checker.enumerate_pixels_mut() {
            *p = if (x + y) % 2 == 0 { Rgb([255, 255, 255]) } else { Rgb([0, 0, 0]) };
        }
        let variance = |img: &RgbImage| {
            let v: Vec<f64> = img.pixels().map(|p| p.0[0] as f64).collect();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64
        };
        let blurred = gaussian_blur(&checker, 1.5);
        assert!(variance(&blurred) < variance(&checker) / 50.0, "{}", variance(&blurred));
        let flat = RgbImage::from_pixel(10, 10, Rgb([90, 120, 200]));
        assert_eq!(gaussian_blur(&flat, 2.0), flat);
    }

    #[test]
    fn affine_moves_content() {
        let img = dot(21, 21, 10, 10);
        assert_eq!(brightest(&affine(&img, 0.0, (5.0, -3.0), 1.0)), (15, 7), "translation");
        let right = dot(21, 21, 15, 10);
        // A quarter turn counter-clockwise on screen takes a point right of the centre to above it.
        assert_eq!(brightest(&affine(&right, 90.0, (0.0, 0.0), 1.0)), (10, 5), "rotation");
        // Zooming in by 2 doubles the distance from the centre.
        let near = dot(21, 21, 12, 10);
        assert_eq!(brightest(&affine(&near, 0.0, (0.0, 0.0), 2.0)), (14, 10), "scale");
        assert_eq!(affine(&img, 0.0, (0.0, 0.0), 1.0), img, "identity");
    }

    #[test]
    fn the_same_seed_frame_and_view_give_the_same_image() {
        let mut img = RgbImage::new(32, 24);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = Rgb([(x * 8) as u8, (y * 10) as u8, ((x * y) % 256) as u8]);
        }
        let a = Augmentation::for_view(42, 7, 1);
        assert_eq!(a, Augmentation::for_view(42, 7, 1));
        assert_ne!(a, Augmentation::for_view(42, 7, 2));
        assert_ne!(a, Augmentation::for_view(42, 8, 1));
        assert_eq!(a.apply(&img), Augmentation::for_view(42, 7, 1).apply(&img));
        for view in 0..50 {
            let p = Augmentation::for_view(1, view, 0);
            assert!(p.degrees.abs() <= 10.0 && (0.9..=1.1).contains(&p.scale) && (0.1..=2.0).contains(&p.blur_sigma));
        }
    }
}
