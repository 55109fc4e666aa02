//! `zoo list` and `zoo search`: one line per card.

use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;
use zoo_registry::{Catalog, Entry};

use crate::cli::{ListArgs, SearchArgs};
use crate::table::{Table, human_bytes};

#[derive(Debug, Serialize)]
struct Row<'a> {
    name: &'a str,
    aliases: &'a [zoo_types::ModelName],
    task: &'a str,
    family: &'a str,
    architecture: &'a str,
    license: &'a str,
    openness: &'a str,
    /// Model Openness Framework class: "III", "II", "I", or null when none is reached.
    mof: Option<zoo_audit::MofClass>,
    size_bytes: u64,
    files: usize,
}

fn row(e: &Entry) -> Row<'_> {
    let c = &e.card;
    Row {
        name: &c.name,
        aliases: &c.aliases,
        task: c.task.as_str(),
        family: &c.family,
        architecture: &c.architecture,
        license: &c.license.id,
        openness: c.openness.class.as_str(),
        mof: zoo_audit::mof::evaluate(&c.openness).class,
        size_bytes: c.total_size(),
        files: c.files.len(),
    }
}

pub fn list(catalog: &Catalog, args: &ListArgs) -> Result<ExitCode> {
    let entries: Vec<&Entry> = catalog
        .entries()
        .into_iter()
        .filter(|e| args.task.is_none_or(|t| e.card.task == t))
        .filter(|e| {
            args.family
                .as_ref()
                .is_none_or(|f| e.card.family.eq_ignore_ascii_case(f))
        })
        .filter(|e| args.openness.is_none_or(|o| e.card.openness.class == o))
        .filter(|e| {
            args.mof
                .is_none_or(|f| f.matches(zoo_audit::mof::evaluate(&e.card.openness).class))
        })
        .filter(|e| {
            args.license
                .as_ref()
                .is_none_or(|p| e.card.license.matches(p))
        })
        .collect();
    print_rows(&entries, args.json)
}

pub fn search(catalog: &Catalog, args: &SearchArgs) -> Result<ExitCode> {
    let hits = catalog.search(&args.text.join(" "));
    if hits.is_empty() && !args.json {
        eprintln!(
            "no model matches '{}'; try fewer words, or `zoo list`",
            args.text.join(" ")
        );
        return Ok(ExitCode::from(crate::exit::FAILURE));
    }
    print_rows(&hits, args.json)
}

fn print_rows(entries: &[&Entry], json: bool) -> Result<ExitCode> {
    if json {
        let rows: Vec<Row<'_>> = entries.iter().map(|e| row(e)).collect();
        super::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        "NAME",
        "TASK",
        "LICENSE",
        "OPENNESS",
        "MOF",
        "SIZE",
        "ARCHITECTURE",
    ]);
    for e in entries {
        let r = row(e);
        let size = if r.files == 0 {
            "-".to_owned()
        } else if r.size_bytes == 0 {
            "unknown".to_owned()
        } else {
            human_bytes(r.size_bytes)
        };
        table.row(vec![
            r.name.to_owned(),
            r.task.to_owned(),
            r.license.to_owned(),
            r.openness.to_owned(),
            r.mof.map_or("-".to_owned(), |c| c.roman().to_owned()),
            size,
            r.architecture.to_owned(),
        ]);
    }
    super::print_lines_safe(&table.render());
    println!("{} model(s)", entries.len());
    Ok(ExitCode::SUCCESS)
}
