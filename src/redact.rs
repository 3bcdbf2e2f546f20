//! Secrets kept out of everything reelmatch prints, logs or names a folder after: the one
//! redaction of a connection string that every message uses.

/// `url` with every password in it replaced by `***`, for messages, logs and folder names: the
/// user-info's (`postgres://me:SECRET@host`, an `@` inside the password included), a
/// `password=` parameter (`?password=SECRET`), and a key=value string's (`host=db
/// password=SECRET`, quoted or not).
pub fn url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return hide_password_params(url, ' ') };
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            format!("{}:***@{host}", user.split(':').next().unwrap_or_default())
        }
        _ => authority.to_string(),
    };
    match query {
        Some(q) => format!("{scheme}://{authority}?{}", hide_password_params(q, '&')),
        None => format!("{scheme}://{authority}"),
    }
}

/// `text`'s `password=` values (parameters split by `separator`; a value may be quoted with `'`)
/// replaced by `***`.
fn hide_password_params(text: &str, separator: char) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("password=") {
        let starts_param = at == 0 || rest[..at].ends_with(separator) || rest[..at].ends_with(' ');
        out.push_str(&rest[..at + "password=".len()]);
        rest = &rest[at + "password=".len()..];
        if !starts_param {
            continue;
        }
        out.push_str("***");
        let end = match rest.strip_prefix('\'') {
            Some(quoted) => quoted.find('\'').map_or(rest.len(), |i| i + 2),
            None => rest.find([separator, ' ']).unwrap_or(rest.len()),
        };
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}
