//! The hub's license ids (the `license:` of a README front matter, or the
//! `license:<id>` tags) as SPDX expressions and `LicenseRef-`s with terms.
//!
//! Ids on the SPDX list map to their SPDX spelling. The hub's own ids map to
//! the `LicenseRef-`s the built-in catalog documents when it has one (so a
//! Llama 3.1 fine-tune imported from the hub carries the same terms as the
//! curated Llama card), else to the table below. An id zoo does not know, or a
//! family without a version (`bsd`, `cc`, `gpl`), keeps its name and gets
//! unknown terms: the gate then asks for acceptance. Nothing is guessed.

use zoo_registry::{Catalog, License, Terms};

/// How one hub id maps.
#[derive(Debug, Clone, Copy)]
enum Mapping {
    /// An SPDX id.
    Spdx(&'static str),
    /// A `LicenseRef-` documented by a built-in card.
    Catalog(&'static str),
    /// A `LicenseRef-` with its name, URL and terms.
    Known(&'static Known),
    /// A license family without a version: its terms cannot be known.
    Family(&'static str),
}

#[derive(Debug)]
struct Known {
    id: &'static str,
    name: &'static str,
    url: &'static str,
    commercial_use: bool,
    share_alike: bool,
    redistribution: bool,
    restrictions: &'static [&'static str],
}

const RAIL_USE: &str = "Use-based restrictions (the license's attachment) forbid among other things \
    illegal use, harming minors, generating disinformation to harm others, defamation and \
    harassment, fully automated decisions that affect people's legal rights, discrimination, \
    medical advice and law-enforcement uses.";
const RAIL_PASS_ON: &str = "Every redistribution and derivative must carry the use restrictions \
    and a copy of the license.";
const LLAMA_MAU: &str = "Licensees whose products had more than 700 million monthly active users \
    at the release date must request a separate license from Meta.";
const LLAMA_AUP: &str = "Use must comply with Meta's Acceptable Use Policy for this Llama version.";
const LLAMA_NOTICE: &str = "Redistributions must include the license and display \"Built with \
    Llama\" (or the notice the version's license requires).";
const RESEARCH_ONLY: &str = "Research and evaluation use only.";

macro_rules! known {
    ($name:ident, $id:literal, $title:literal, $url:literal, commercial: $c:literal,
     share_alike: $sa:literal, redistribution: $r:literal, [$($res:expr),*]) => {
        static $name: Known = Known {
            id: $id,
            name: $title,
            url: $url,
            commercial_use: $c,
            share_alike: $sa,
            redistribution: $r,
            restrictions: &[$($res),*],
        };
    };
}

known!(OPENRAIL, "LicenseRef-OpenRAIL", "Open RAIL (Responsible AI License)",
    "https://www.licenses.ai/", commercial: true, share_alike: false, redistribution: true,
    [RAIL_USE, RAIL_PASS_ON]);
known!(OPENRAIL_PP, "LicenseRef-OpenRAIL-PlusPlus", "CreativeML Open RAIL++-M",
    "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/blob/main/LICENSE.md",
    commercial: true, share_alike: false, redistribution: true, [RAIL_USE, RAIL_PASS_ON]);
known!(BIGSCIENCE_OPENRAIL_M, "LicenseRef-BigScience-OpenRAIL-M", "BigScience Open RAIL-M",
    "https://huggingface.co/spaces/bigscience/license", commercial: true, share_alike: false,
    redistribution: true, [RAIL_USE, RAIL_PASS_ON]);
known!(BLOOM_RAIL, "LicenseRef-BigScience-BLOOM-RAIL-1.0", "BigScience BLOOM RAIL 1.0",
    "https://huggingface.co/spaces/bigscience/license", commercial: true, share_alike: false,
    redistribution: true, [RAIL_USE, RAIL_PASS_ON]);
known!(BIGCODE_OPENRAIL_M, "LicenseRef-BigCode-OpenRAIL-M", "BigCode Open RAIL-M v1",
    "https://huggingface.co/spaces/bigcode/bigcode-model-license-agreement", commercial: true,
    share_alike: false, redistribution: true, [RAIL_USE, RAIL_PASS_ON]);
known!(LLAMA2, "LicenseRef-Llama-2-Community", "Llama 2 Community License",
    "https://ai.meta.com/llama/license/", commercial: true, share_alike: false,
    redistribution: true, [LLAMA_MAU, LLAMA_AUP, LLAMA_NOTICE]);
known!(LLAMA3, "LicenseRef-Llama-3-Community", "Meta Llama 3 Community License",
    "https://llama.meta.com/llama3/license/", commercial: true, share_alike: false,
    redistribution: true, [LLAMA_MAU, LLAMA_AUP, LLAMA_NOTICE]);
known!(LLAMA3_2, "LicenseRef-Llama-3.2-Community", "Llama 3.2 Community License",
    "https://www.llama.com/llama3_2/license/", commercial: true, share_alike: false,
    redistribution: true, [LLAMA_MAU, LLAMA_AUP, LLAMA_NOTICE,
    "The rights to the multimodal models are not granted to individuals or companies \
     domiciled in the European Union."]);
known!(LLAMA3_3, "LicenseRef-Llama-3.3-Community", "Llama 3.3 Community License",
    "https://www.llama.com/llama3_3/license/", commercial: true, share_alike: false,
    redistribution: true, [LLAMA_MAU, LLAMA_AUP, LLAMA_NOTICE]);
known!(LLAMA4, "LicenseRef-Llama-4-Community", "Llama 4 Community License",
    "https://www.llama.com/llama4/license/", commercial: true, share_alike: false,
    redistribution: true, [LLAMA_MAU, LLAMA_AUP, LLAMA_NOTICE]);
known!(DEEPFLOYD, "LicenseRef-DeepFloyd-IF", "DeepFloyd IF License Agreement",
    "https://huggingface.co/spaces/DeepFloyd/deepfloyd-if-license", commercial: false,
    share_alike: false, redistribution: true, [RESEARCH_ONLY]);
known!(FAIR_NC, "LicenseRef-FAIR-Noncommercial-Research", "FAIR Noncommercial Research License",
    "https://huggingface.co/docs/hub/repositories-licenses", commercial: false,
    share_alike: false, redistribution: true, [RESEARCH_ONLY]);
known!(APPLE_AMLR, "LicenseRef-Apple-AMLR", "Apple Machine Learning Research Model License",
    "https://huggingface.co/docs/hub/repositories-licenses", commercial: false,
    share_alike: false, redistribution: true, [RESEARCH_ONLY]);
known!(INTEL_RESEARCH, "LicenseRef-Intel-Research", "Intel Research Use License",
    "https://huggingface.co/docs/hub/repositories-licenses", commercial: false,
    share_alike: false, redistribution: false, [RESEARCH_ONLY]);
known!(H_RESEARCH, "LicenseRef-H-Research", "H Research License",
    "https://huggingface.co/docs/hub/repositories-licenses", commercial: false,
    share_alike: false, redistribution: false, [RESEARCH_ONLY]);

/// Hub ids that are not spelled as on the SPDX list, or are not on it.
const TABLE: &[(&str, Mapping)] = &[
    (
        "llama3.1",
        Mapping::Catalog("LicenseRef-Llama-3.1-Community"),
    ),
    ("gemma", Mapping::Catalog("LicenseRef-Gemma-Terms-of-Use")),
    (
        "creativeml-openrail-m",
        Mapping::Catalog("LicenseRef-CreativeML-OpenRAIL-M"),
    ),
    ("openrail", Mapping::Known(&OPENRAIL)),
    ("openrail++", Mapping::Known(&OPENRAIL_PP)),
    (
        "bigscience-openrail-m",
        Mapping::Known(&BIGSCIENCE_OPENRAIL_M),
    ),
    ("bigscience-bloom-rail-1.0", Mapping::Known(&BLOOM_RAIL)),
    ("bigcode-openrail-m", Mapping::Known(&BIGCODE_OPENRAIL_M)),
    ("llama2", Mapping::Known(&LLAMA2)),
    ("llama3", Mapping::Known(&LLAMA3)),
    ("llama3.2", Mapping::Known(&LLAMA3_2)),
    ("llama3.3", Mapping::Known(&LLAMA3_3)),
    ("llama4", Mapping::Known(&LLAMA4)),
    ("deepfloyd-if-license", Mapping::Known(&DEEPFLOYD)),
    (
        "fair-noncommercial-research-license",
        Mapping::Known(&FAIR_NC),
    ),
    ("apple-amlr", Mapping::Known(&APPLE_AMLR)),
    ("intel-research", Mapping::Known(&INTEL_RESEARCH)),
    ("h-research", Mapping::Known(&H_RESEARCH)),
    // SPDX ids the hub spells differently.
    ("agpl-3.0", Mapping::Spdx("AGPL-3.0-only")),
    ("gpl-2.0", Mapping::Spdx("GPL-2.0-only")),
    ("gpl-3.0", Mapping::Spdx("GPL-3.0-only")),
    ("lgpl-2.1", Mapping::Spdx("LGPL-2.1-only")),
    ("lgpl-3.0", Mapping::Spdx("LGPL-3.0-only")),
    ("gfdl", Mapping::Family("GFDL")),
    ("odc-by", Mapping::Spdx("ODC-By-1.0")),
    ("odbl", Mapping::Spdx("ODbL-1.0")),
    ("pddl", Mapping::Spdx("PDDL-1.0")),
    ("c-uda", Mapping::Spdx("C-UDA-1.0")),
    ("lgpl-lr", Mapping::Spdx("LGPLLR")),
    ("bsd", Mapping::Family("BSD")),
    ("cc", Mapping::Family("CC")),
    ("gpl", Mapping::Family("GPL")),
    ("lgpl", Mapping::Family("LGPL")),
    ("unknown", Mapping::Family("Unknown")),
];

/// The hub ids this build maps to something other than plain SPDX spelling,
/// with what each becomes: for docs and the closing note of a release.
pub fn mapped_ids(catalog: &Catalog) -> Vec<(String, String)> {
    TABLE
        .iter()
        .map(|(hub, _)| (hub.to_string(), from_hub_id(hub, catalog).id))
        .collect()
}

/// One hub license id as a [`License`].
pub fn from_hub_id(hub_id: &str, catalog: &Catalog) -> License {
    let lower = hub_id.to_ascii_lowercase();
    let mapping = TABLE
        .iter()
        .find(|(id, _)| *id == lower)
        .map(|(_, m)| *m)
        .or_else(|| spdx_id(&lower).map(Mapping::Spdx));
    match mapping {
        Some(Mapping::Spdx(id)) => plain(id),
        Some(Mapping::Catalog(id)) => match catalog.known_license(id) {
            Some(l) => l.clone(),
            None => unknown_ref(hub_id),
        },
        Some(Mapping::Known(k)) => License {
            id: k.id.to_owned(),
            name: Some(k.name.to_owned()),
            url: Some(k.url.to_owned()),
            terms: Some(Terms {
                commercial_use: k.commercial_use,
                attribution: true,
                share_alike: k.share_alike,
                redistribution: k.redistribution,
                use_restrictions: k.restrictions.iter().map(|s| squash(s)).collect(),
                gated: false,
            }),
        },
        Some(Mapping::Family(family)) => License {
            id: format!("LicenseRef-Hub-{family}"),
            name: Some(format!(
                "'{hub_id}' on the Hugging Face Hub: a license family without a version"
            )),
            url: Some(HUB_LICENSES.to_owned()),
            terms: None,
        },
        None => unknown_ref(hub_id),
    }
}

/// `license: other` with the repository's own `license_name` / `license_link`.
pub fn other(name: Option<&str>, link: Option<&str>, repo_url: &str) -> License {
    let id_part = name.map(ref_id_part).filter(|p| !p.is_empty());
    License {
        id: format!("LicenseRef-{}", id_part.as_deref().unwrap_or("Hub-Other")),
        name: Some(match name {
            Some(n) => n.to_owned(),
            None => "a license the repository calls 'other' without naming it".to_owned(),
        }),
        url: Some(match link {
            Some(l) if l.starts_with("https://") || l.starts_with("http://") => l.to_owned(),
            // A relative link (often `LICENSE`) points into the repository.
            Some(l) => format!("{repo_url}/blob/main/{}", l.trim_start_matches("./")),
            None => repo_url.to_owned(),
        }),
        terms: None,
    }
}

/// Several licenses that all apply (a front matter listing more than one):
/// `A AND B`, with the terms of both combined; unknown if any is unknown.
pub fn all_of(mut licenses: Vec<License>) -> License {
    if licenses.len() == 1 {
        return licenses.remove(0);
    }
    let terms: Option<Vec<Terms>> = licenses.iter().map(License::terms).collect();
    let combined = terms.and_then(|all| all.into_iter().reduce(Terms::and));
    let ids: Vec<String> = licenses
        .iter()
        .map(|l| {
            if l.id.contains(' ') {
                format!("({})", l.id)
            } else {
                l.id.clone()
            }
        })
        .collect();
    let names: Vec<&str> = licenses.iter().map(License::display_name).collect();
    License {
        id: ids.join(" AND "),
        name: Some(names.join(" and ")),
        url: licenses.iter().find_map(|l| l.url.clone()),
        terms: combined,
    }
}

const HUB_LICENSES: &str = "https://huggingface.co/docs/hub/repositories-licenses";

fn plain(id: &str) -> License {
    License {
        id: id.to_owned(),
        name: None,
        url: None,
        terms: None,
    }
}

fn unknown_ref(hub_id: &str) -> License {
    // An id of only punctuation (`_`, `+`) leaves nothing: `LicenseRef-Hub-`
    // is not an SPDX id, and the card would fail its own check.
    let part = Some(ref_id_part(hub_id)).filter(|p| !p.is_empty());
    License {
        id: format!("LicenseRef-Hub-{}", part.as_deref().unwrap_or("Unnamed")),
        name: Some(format!(
            "'{hub_id}' on the Hugging Face Hub (zoo does not know its terms)"
        )),
        url: Some(HUB_LICENSES.to_owned()),
        terms: None,
    }
}

/// SPDX `LicenseRef-` ids allow letters, digits, `.` and `-`.
fn ref_id_part(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let parts: Vec<&str> = mapped.split('-').filter(|p| !p.is_empty()).collect();
    let joined = parts.join("-");
    joined.chars().take(64).collect()
}

/// The SPDX spelling of an id, compared case-insensitively; deprecated ids are
/// not used (the hub's `gpl-3.0` is mapped explicitly above).
fn spdx_id(lower: &str) -> Option<&'static str> {
    spdx::identifiers::LICENSES
        .iter()
        .find(|l| {
            l.name.eq_ignore_ascii_case(lower)
                && spdx::license_id(l.name).is_some_and(|id| !id.is_deprecated())
        })
        .map(|l| l.name)
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::embedded().unwrap()
    }

    #[test]
    fn spdx_ids_get_their_spdx_spelling() {
        let c = catalog();
        assert_eq!(from_hub_id("apache-2.0", &c).id, "Apache-2.0");
        assert_eq!(from_hub_id("mit", &c).id, "MIT");
        assert_eq!(from_hub_id("cc-by-nc-4.0", &c).id, "CC-BY-NC-4.0");
        assert_eq!(from_hub_id("gpl-3.0", &c).id, "GPL-3.0-only");
        assert_eq!(from_hub_id("odbl", &c).id, "ODbL-1.0");
        for (_, id) in mapped_ids(&c) {
            let l = License {
                id: id.clone(),
                name: Some("n".into()),
                url: Some("u".into()),
                terms: None,
            };
            assert!(l.validate().is_ok(), "{id}");
        }
    }

    #[test]
    fn the_catalog_licenses_are_reused_with_their_terms() {
        let c = catalog();
        let llama = from_hub_id("llama3.1", &c);
        assert_eq!(llama.id, "LicenseRef-Llama-3.1-Community");
        assert_eq!(
            llama,
            *c.known_license("LicenseRef-Llama-3.1-Community").unwrap()
        );
        assert!(!llama.terms().unwrap().use_restrictions.is_empty());
        assert_eq!(from_hub_id("gemma", &c).id, "LicenseRef-Gemma-Terms-of-Use");
        let sd = from_hub_id("creativeml-openrail-m", &c);
        assert!(sd.terms().is_some());
    }

    #[test]
    fn hub_own_ids_have_restrictive_terms_and_unknown_ones_none() {
        let c = catalog();
        let rail = from_hub_id("bigscience-bloom-rail-1.0", &c);
        assert!(!rail.terms().unwrap().is_unrestricted());
        assert!(
            !from_hub_id("deepfloyd-if-license", &c)
                .terms()
                .unwrap()
                .commercial_use
        );
        for punctuation in ["_", "+", "@:=", "-"] {
            let l = from_hub_id(punctuation, &c);
            assert_eq!(l.id, "LicenseRef-Hub-Unnamed");
            assert!(l.validate().is_ok(), "{punctuation}");
        }
        let odd = from_hub_id("my-own\u{1b}[31m", &c);
        assert!(odd.id.starts_with("LicenseRef-Hub-my-own"));
        assert!(odd.terms().is_none());
        assert!(from_hub_id("bsd", &c).terms().is_none());
    }

    #[test]
    fn other_licenses_keep_their_name_and_link() {
        let l = other(
            Some("Acme Model License v2"),
            Some("LICENSE.md"),
            "https://hub/acme/m",
        );
        assert_eq!(l.id, "LicenseRef-Acme-Model-License-v2");
        assert_eq!(
            l.url.as_deref(),
            Some("https://hub/acme/m/blob/main/LICENSE.md")
        );
        assert!(l.validate().is_ok());
        assert!(l.terms().is_none());
    }
}
