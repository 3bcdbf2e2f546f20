//! Inline frame previews with viuer: the query frame beside each match's best frame, for
//! `similar --preview` and the dashboard's full-screen preview.

use super::args::Graphics;
use crate::library::Library;
use crate::search::query::Query;
use crate::search::Results;
use image::DynamicImage;

fn config(graphics: Graphics, x: u16, width: u32) -> viuer::Config {
    let mut c = viuer::Config {
        width: Some(width),
        x,
        y: 0,
        absolute_offset: false,
        restore_cursor: true,
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
    c
}

/// Prints `caption`, then `left` and `right` side by side in `columns` terminal columns.
pub fn side_by_side(
    left: Option<&DynamicImage>,
    right: Option<&DynamicImage>,
    caption: &str,
    graphics: Graphics,
    columns: u16,
) -> anyhow::Result<()> {
    print!("{caption}\r\n");
    let width = (columns.saturating_sub(2) / 2).clamp(8, 60) as u32;
    let mut rows = 0;
    if let Some(img) = left {
        rows = viuer::print(img, &config(graphics, 0, width)).map(|(_, h)| h).unwrap_or(0);
    }
    if let Some(img) = right {
        rows = rows.max(viuer::print(img, &config(graphics, width as u16 + 2, width)).map(|(_, h)| h).unwrap_or(0));
    }
    print!("{}", "\r\n".repeat(rows as usize + 1));
    use std::io::Write;
    std::io::stdout().flush()?;
    Ok(())
}

/// Prints, for each result, the query frame that matched best and the frame it matched.
pub fn show(library: &Library, query: &Query, results: &Results, graphics: Graphics) -> anyhow::Result<()> {
    for hit in results.results.iter().take(5) {
        let Some(best) = hit.frames.iter().max_by(|a, b| a.similarity.total_cmp(&b.similarity)) else { continue };
        let q =
            query.frames.iter().min_by(|a, b| (a.t_s - best.query_t).abs().total_cmp(&(b.t_s - best.query_t).abs()));
        let caption = format!(
            "#{} {}  (query {:.1}s ≈ match {:.1}s, {:.2})",
            hit.rank, hit.title, best.query_t, best.match_t, best.similarity
        );
        let query_image = match q {
            Some(f) if f.image.is_some() => f.image.clone().map(DynamicImage::ImageRgb8),
            Some(f) => f.file.as_ref().and_then(|p| image::open(p).ok()),
            None => None,
        };
        let match_image = image::open(library.resolve(&best.match_file)).ok();
        side_by_side(query_image.as_ref(), match_image.as_ref(), &caption, graphics, 76)?;
    }
    Ok(())
}
