//! Inline frame previews with viuer: the query frame beside each match's best frame.

use super::args::Graphics;
use crate::library::Library;
use crate::search::query::Query;
use crate::search::Results;

const WIDTH: u32 = 36;

fn config(graphics: Graphics, x: u16) -> viuer::Config {
    let mut c = viuer::Config {
        width: Some(WIDTH),
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

/// Prints, for each result, the query frame that matched best and the frame it matched.
pub fn show(library: &Library, query: &Query, results: &Results, graphics: Graphics) -> anyhow::Result<()> {
    for hit in results.results.iter().take(5) {
        let Some(best) = hit.frames.iter().max_by(|a, b| a.similarity.total_cmp(&b.similarity)) else { continue };
        let q =
            query.frames.iter().min_by(|a, b| (a.t_s - best.query_t).abs().total_cmp(&(b.t_s - best.query_t).abs()));
        println!(
            "#{} {}  (query {:.1}s ≈ match {:.1}s, {:.2})",
            hit.rank, hit.title, best.query_t, best.match_t, best.similarity
        );
        let query_image = match q {
            Some(f) if f.image.is_some() => f.image.clone().map(image::DynamicImage::ImageRgb8),
            Some(f) => f.file.as_ref().and_then(|p| image::open(p).ok()),
            None => None,
        };
        let match_image = image::open(library.resolve(&best.match_file)).ok();
        let rows = match (&query_image, &match_image) {
            (Some(qi), _) => viuer::print(qi, &config(graphics, 0)).map(|(_, h)| h).unwrap_or(0),
            _ => 0,
        };
        let rows = match &match_image {
            Some(mi) => rows.max(viuer::print(mi, &config(graphics, WIDTH as u16 + 2)).map(|(_, h)| h).unwrap_or(0)),
            None => rows,
        };
        println!("{}", "\n".repeat(rows as usize));
    }
    Ok(())
}
