//! An image prepared for a vision-text model exactly as its own Hugging Face image processor
//! does (`preprocessor_config.json`): resized on 8-bit pixels (to a fixed size, or its shortest
//! edge to a length), centre-cropped, rescaled and normalised, channels first.

use image::imageops::FilterType;
use image::RgbImage;
use serde_json::Value;

/// How an image is resized before it is cropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resize {
    /// To exactly this width and height (SigLIP's `{"height", "width"}`).
    To { width: u32, height: u32 },
    /// The shorter side to this length, the longer in proportion, rounded down (CLIP's
    /// `{"shortest_edge"}`).
    ShortestEdge(u32),
}

/// What `preprocessor_config.json` says to do to an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Processor {
    pub resize: Option<Resize>,
    pub filter: FilterType,
    /// The centre crop's width and height, if one is taken.
    pub crop: Option<(u32, u32)>,
    pub rescale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// A size field: a number, or `{"height", "width"}` / `{"shortest_edge"}`.
fn size_field(v: &Value, square_number: bool) -> Result<Resize, String> {
    if let Some(n) = v.as_u64() {
        let n = n as u32;
        return Ok(if square_number { Resize::To { width: n, height: n } } else { Resize::ShortestEdge(n) });
    }
    let get = |key: &str| v.get(key).and_then(Value::as_u64).map(|n| n as u32);
    match (get("height"), get("width"), get("shortest_edge")) {
        (Some(height), Some(width), _) => Ok(Resize::To { width, height }),
        (_, _, Some(n)) => Ok(Resize::ShortestEdge(n)),
        _ => Err(format!("size {v} is neither a number, {{\"height\", \"width\"}} nor {{\"shortest_edge\"}}")),
    }
}

/// PIL's resampling filters by number, as the processors record them.
fn filter(resample: u64) -> Result<FilterType, String> {
    Ok(match resample {
        0 => FilterType::Nearest,
        1 => FilterType::Lanczos3,
        2 => FilterType::Triangle,
        3 => FilterType::CatmullRom,
        other => {
            return Err(format!("resample {other} (only 0 nearest, 1 Lanczos, 2 bilinear and 3 bicubic are supported)"))
        }
    })
}

impl Processor {
    /// From the text of `preprocessor_config.json`; an error says which field is wrong.
    pub fn from_json(text: &str) -> Result<Processor, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let flag = |key: &str, default: bool| v.get(key).and_then(Value::as_bool).unwrap_or(default);
        let crop_wanted = flag("do_center_crop", false);
        let resize = match (flag("do_resize", true), v.get("size")) {
            (true, Some(size)) => Some(size_field(size, !crop_wanted)?),
            (true, None) => return Err("do_resize is on but there is no size".into()),
            (false, _) => None,
        };
        let crop = match (crop_wanted, v.get("crop_size")) {
            (true, Some(size)) => match size_field(size, true)? {
                Resize::To { width, height } => Some((width, height)),
                Resize::ShortestEdge(_) => return Err(format!("crop_size {size} gives no height and width")),
            },
            (true, None) => return Err("do_center_crop is on but there is no crop_size".into()),
            (false, _) => None,
        };
        let triple = |key: &str, default: [f32; 3]| -> Result<[f32; 3], String> {
            match v.get(key) {
                None => Ok(default),
                Some(x) => {
                    let list: Vec<f32> = serde_json::from_value(x.clone()).map_err(|e| format!("{key}: {e}"))?;
                    list.try_into().map_err(|_| format!("{key} needs three values, one per channel"))
                }
            }
        };
        let normalize = flag("do_normalize", true);
        let (mean, std) = match normalize {
            true => (triple("image_mean", [0.5; 3])?, triple("image_std", [0.5; 3])?),
            false => ([0.0; 3], [1.0; 3]),
        };
        if std.contains(&0.0) {
            return Err("image_std holds a 0".into());
        }
        let rescale = match flag("do_rescale", true) {
            true => v.get("rescale_factor").and_then(Value::as_f64).unwrap_or(1.0 / 255.0) as f32,
            false => 1.0,
        };
        let filter = filter(v.get("resample").and_then(Value::as_u64).unwrap_or(3))?;
        Ok(Processor { resize, filter, crop, rescale, mean, std })
    }

    /// The size an image of `width`×`height` is resized to, as Hugging Face's processors compute
    /// it (the longer side of a shortest-edge resize rounded down).
    pub fn resized_size(&self, width: u32, height: u32) -> (u32, u32) {
        match self.resize {
            None => (width, height),
            Some(Resize::To { width, height }) => (width, height),
            Some(Resize::ShortestEdge(n)) => {
                let (short, long) = (width.min(height).max(1), width.max(height));
                let long = (u64::from(n) * u64::from(long) / u64::from(short)) as u32;
                if width <= height {
                    (n, long)
                } else {
                    (long, n)
                }
            }
        }
    }

    /// The width and height the model sees for an image of `width`×`height`.
    pub fn output_size(&self, width: u32, height: u32) -> (u32, u32) {
        self.crop.unwrap_or_else(|| self.resized_size(width, height))
    }

    /// `img` prepared into `dst` (3 × height × width floats, channels first); `dst` must be
    /// [`Processor::output_size`]'s area × 3 long.
    pub fn prepare(&self, img: &RgbImage, dst: &mut [f32]) {
        let (w, h) = self.resized_size(img.width(), img.height());
        let resized;
        let img = if (w, h) == img.dimensions() {
            img
        } else {
            resized = image::imageops::resize(img, w, h, self.filter);
            &resized
        };
        let (cw, ch) = self.crop.unwrap_or((w, h));
        // Hugging Face's centre crop: the top-left corner at half the difference, rounded down.
        let (left, top) = (w.saturating_sub(cw) / 2, h.saturating_sub(ch) / 2);
        let plane = (cw * ch) as usize;
        for y in 0..ch {
            for x in 0..cw {
                let i = (y * cw + x) as usize;
                let (sx, sy) = (left + x, top + y);
                let p = if sx < w && sy < h { img.get_pixel(sx, sy).0 } else { [0, 0, 0] };
                for c in 0..3 {
                    dst[c * plane + i] = (f32::from(p[c]) * self.rescale - self.mean[c]) / self.std[c];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGLIP: &str = r#"{"do_normalize": true, "do_rescale": true, "do_resize": true,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 2,
        "rescale_factor": 0.00392156862745098, "size": {"height": 224, "width": 224}}"#;
    const CLIP: &str = r#"{"crop_size": 224, "do_center_crop": true, "do_normalize": true, "do_resize": true,
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
        "resample": 3, "size": 224}"#;

    #[test]
    fn both_layouts_of_the_processor_config_are_read() {
        let s = Processor::from_json(SIGLIP).unwrap();
        assert_eq!(
            (s.resize, s.crop, s.filter),
            (Some(Resize::To { width: 224, height: 224 }), None, FilterType::Triangle)
        );
        assert_eq!(s.output_size(1280, 720), (224, 224));
        let c = Processor::from_json(CLIP).unwrap();
        assert_eq!(
            (c.resize, c.crop, c.filter),
            (Some(Resize::ShortestEdge(224)), Some((224, 224)), FilterType::CatmullRom)
        );
        assert_eq!(c.resized_size(1280, 720), (398, 224), "398.2 rounded down, as transformers does");
        assert_eq!(c.resized_size(720, 1280), (224, 398));
        assert_eq!(c.output_size(1280, 720), (224, 224));
        assert!(Processor::from_json(r#"{"size": 224, "resample": 9}"#).unwrap_err().contains("resample 9"));
        assert!(Processor::from_json(r#"{"do_center_crop": true, "size": 224}"#).unwrap_err().contains("crop_size"));
    }

    #[test]
    fn the_centre_crop_and_normalisation_are_the_processors() {
        let c = Processor {
            resize: None,
            filter: FilterType::Triangle,
            crop: Some((2, 1)),
            rescale: 1.0 / 255.0,
            mean: [0.5; 3],
            std: [0.5; 3],
        };
        // A 4×3 image whose pixels say where they are: the crop starts at (1, 1).
        let img = RgbImage::from_fn(4, 3, |x, y| image::Rgb([(x * 50) as u8, (y * 100) as u8, 255]));
        let mut out = vec![0.0; 6];
        c.prepare(&img, &mut out);
        let v = |p: f32| (p / 255.0 - 0.5) / 0.5;
        let want = [v(50.0), v(100.0), v(100.0), v(100.0), v(255.0), v(255.0)];
        assert!(out.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{out:?} against {want:?}");
    }
}
