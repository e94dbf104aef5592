//! Tables sorted by any number column: a header button cycles ascending → descending → as
//! listed, and says so to screen readers (`aria-sort`).

use leptos::prelude::*;

/// Which column a table is sorted by, and which way (`None`: as the answer listed the rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub column: Option<usize>,
    pub descending: bool,
}

impl Sort {
    fn next(self, column: usize) -> Self {
        match (self.column, self.descending) {
            (Some(c), false) if c == column => Sort {
                column: Some(column),
                descending: true,
            },
            (Some(c), true) if c == column => Sort::default(),
            _ => Sort {
                column: Some(column),
                descending: false,
            },
        }
    }
}

/// A header cell that sorts its table by `column`.
pub fn header(
    label: String,
    column: usize,
    sort: RwSignal<Sort>,
    testid: &'static str,
    class: &'static str,
) -> impl IntoView {
    let state = move || {
        let s = sort.get();
        match (s.column == Some(column), s.descending) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        }
    };
    view! {
        <th class=class aria-sort=state>
            <button class="link sort" data-testid=testid on:click=move |_| sort.update(|s| *s = s.next(column))>
                {label}
                <span aria-hidden="true">{move || match state() { "ascending" => " ▲", "descending" => " ▼", _ => "" }}</span>
            </button>
        </th>
    }
}

/// Sorts `rows` by the chosen column's number (rows without one last, in their order).
pub fn apply<T>(rows: &mut [T], sort: Sort, key: impl Fn(&T, usize) -> Option<f64>) {
    let Some(column) = sort.column else {
        return;
    };
    rows.sort_by(|a, b| match (key(a, column), key(b, column)) {
        (Some(x), Some(y)) if sort.descending => y.total_cmp(&x),
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}
