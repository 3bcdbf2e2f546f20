//! Titles shortened for a narrow place (a bar's label) so that they stay told apart.

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
    fn short_labels_are_told_apart() {
        let titles = ["Mandela Day", "Mandela Effect", "Starboy", "Mandela Day (live)", "Mandela Day (demo)"];
        let labels = short_labels(&titles, 7);
        assert_eq!(labels[..3], ["Man…Day", "Man…ect", "Starboy"]);
        assert_eq!(labels[3..], ["Man…ve)", "Man…mo)"]);
        assert_eq!(short_labels(&["Intro", "Intro"], 7), ["Intro1", "Intro2"], "the same title twice is numbered");
        assert!(short_labels(&titles, 7).iter().all(|l| l.chars().count() <= 7));
    }
}
