//! Pagination of listings: bounds checking of `page` / `page_size` and the
//! `self` / `next` / `prev` links, which keep every active filter. Pure
//! functions over plain data.

use serde::Serialize;

/// `page_size` when the query names none.
pub const DEFAULT_PAGE_SIZE: usize = 10;
/// The largest `page_size` accepted.
pub const MAX_PAGE_SIZE: usize = 100;

/// A validated page request; `page` counts from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: usize,
    pub page_size: usize,
}

/// A `page` or `page_size` that is not a number or out of bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("query parameter `{param}` {problem}, got {value:?}")]
pub struct PageError {
    pub param: &'static str,
    pub problem: &'static str,
    pub value: String,
}

impl PageRequest {
    /// Parses the raw query values: `page ≥ 1`, `1 ≤ page_size ≤ 100`.
    pub fn parse(page: Option<&str>, page_size: Option<&str>) -> Result<PageRequest, PageError> {
        let page = parse_bounded("page", page, 1, usize::MAX, "must be an integer ≥ 1")?;
        let page_size = parse_bounded(
            "page_size",
            page_size,
            DEFAULT_PAGE_SIZE,
            MAX_PAGE_SIZE,
            "must be an integer between 1 and 100",
        )?;
        Ok(PageRequest { page, page_size })
    }
}

fn parse_bounded(
    param: &'static str,
    raw: Option<&str>,
    default: usize,
    max: usize,
    problem: &'static str,
) -> Result<usize, PageError> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.parse::<usize>() {
        Ok(value) if (1..=max).contains(&value) => Ok(value),
        _ => Err(PageError {
            param,
            problem,
            value: raw.to_owned(),
        }),
    }
}

/// The navigation links of one page; `next` / `prev` are `null` at the ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PageLinks {
    #[serde(rename = "self")]
    pub this: String,
    pub next: Option<String>,
    pub prev: Option<String>,
}

/// Builds the links for `request` over `total` matches. `filters` are the
/// active query filters (already URL-safe), appended after the paging.
pub fn page_links(
    base_path: &str,
    filters: &[(&str, String)],
    request: PageRequest,
    total: usize,
) -> PageLinks {
    let link = |page: usize| {
        let mut url = format!("{base_path}?page={page}&page_size={}", request.page_size);
        for (name, value) in filters {
            url.push_str(&format!("&{name}={value}"));
        }
        url
    };
    let seen = request.page.saturating_mul(request.page_size);
    PageLinks {
        this: link(request.page),
        next: (seen < total).then(|| link(request.page + 1)),
        prev: (request.page > 1).then(|| link(request.page - 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            PageRequest::parse(None, None),
            Ok(PageRequest {
                page: 1,
                page_size: 10
            })
        );
        assert_eq!(
            PageRequest::parse(Some("3"), Some("100")),
            Ok(PageRequest {
                page: 3,
                page_size: 100
            })
        );
        for (page, size, param) in [
            (Some("0"), None, "page"),
            (Some("-1"), None, "page"),
            (Some("two"), None, "page"),
            (None, Some("0"), "page_size"),
            (None, Some("101"), "page_size"),
            (None, Some(""), "page_size"),
        ] {
            assert_eq!(PageRequest::parse(page, size).unwrap_err().param, param);
        }
    }

    #[test]
    fn links_keep_filters_and_stop_at_the_ends() {
        let filters = [("status", "pending".to_owned())];
        let first = page_links(
            "/v1/orders",
            &filters,
            PageRequest {
                page: 1,
                page_size: 10,
            },
            25,
        );
        assert_eq!(first.this, "/v1/orders?page=1&page_size=10&status=pending");
        assert_eq!(
            first.next.as_deref(),
            Some("/v1/orders?page=2&page_size=10&status=pending")
        );
        assert_eq!(first.prev, None);
        let last = page_links(
            "/v1/orders",
            &filters,
            PageRequest {
                page: 3,
                page_size: 10,
            },
            25,
        );
        assert_eq!(last.next, None);
        assert_eq!(
            last.prev.as_deref(),
            Some("/v1/orders?page=2&page_size=10&status=pending")
        );
    }

    #[test]
    fn exact_fit_has_no_next_page() {
        let links = page_links(
            "/o",
            &[],
            PageRequest {
                page: 2,
                page_size: 5,
            },
            10,
        );
        assert_eq!(links.next, None);
    }
}
