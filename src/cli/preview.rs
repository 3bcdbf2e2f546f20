//! `similar --preview`: for each of the first results, the query frame that matched best beside
//! the frame it matched, printed inline (see [`crate::images`]).

use crate::backend::FrameImages;
use crate::images::{print_pair, side_by_side, Graphics};
use crate::search::query::Query;
use crate::search::Results;
use image::DynamicImage;

/// Prints, for each of the first five results, the query frame that matched best and the frame it matched.
pub fn show(images: &mut FrameImages, query: &Query, results: &Results, graphics: Graphics) -> anyhow::Result<()> {
    for hit in results.results.iter().take(5) {
        let Some(best) = hit.best_frame() else { continue };
        let caption = format!(
            "#{} {}  (query {:.1}s ≈ match {:.1}s, {:.2})",
            hit.rank, hit.title, best.query_t, best.match_t, best.similarity
        );
        let query_image = match query.frame_near(best.query_t) {
            Some(f) if f.image.is_some() => f.image.clone().map(DynamicImage::ImageRgb8),
            Some(f) => match &f.file {
                Some(file) => images.open(&file.to_string_lossy())?,
                None => None,
            },
            None => None,
        };
        let match_image = images.open(&best.match_file)?;
        print_pair(&side_by_side(query_image.as_ref(), match_image.as_ref()), &caption, graphics, 120)?;
    }
    Ok(())
}
