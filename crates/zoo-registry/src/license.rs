//! Licenses as data: an SPDX expression (or a `LicenseRef-`), and the terms that
//! matter to a user deciding whether they may ship a model.
//!
//! Terms written on a card win; otherwise they are derived from the SPDX list for
//! the common ids, so a card for an Apache-2.0 model need not restate them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// An SPDX license expression such as `Apache-2.0` or `MIT OR Apache-2.0`, or a
    /// `LicenseRef-<name>` for licenses outside the SPDX list.
    pub id: String,
    /// Human name; required for `LicenseRef-` ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the full text lives; required for `LicenseRef-` ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<Terms>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    pub commercial_use: bool,
    pub attribution: bool,
    pub share_alike: bool,
    pub redistribution: bool,
    /// Uses the license forbids, in plain words (e.g. an acceptable-use policy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub use_restrictions: Vec<String>,
    /// The upstream host requires accepting the terms before download.
    #[serde(default)]
    pub gated: bool,
}

impl Terms {
    const PERMISSIVE: Terms = Terms {
        commercial_use: true,
        attribution: true,
        share_alike: false,
        redistribution: true,
        use_restrictions: Vec::new(),
        gated: false,
    };

    /// No obligation that limits what a user may do with the weights.
    pub fn is_unrestricted(&self) -> bool {
        self.commercial_use
            && self.redistribution
            && self.use_restrictions.is_empty()
            && !self.gated
    }

    /// The terms of two licenses that both apply: every limit of either.
    pub fn and(self, other: Terms) -> Terms {
        let mut use_restrictions = self.use_restrictions;
        use_restrictions.extend(other.use_restrictions);
        Terms {
            commercial_use: self.commercial_use && other.commercial_use,
            attribution: self.attribution || other.attribution,
            share_alike: self.share_alike || other.share_alike,
            redistribution: self.redistribution && other.redistribution,
            use_restrictions,
            gated: self.gated || other.gated,
        }
    }

    /// The obligations in plain words, one sentence each, for `zoo info` and audits.
    pub fn obligations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.commercial_use {
            out.push("Non-commercial use only.".to_owned());
        }
        if self.attribution {
            out.push("Give attribution: keep the copyright and license notices.".to_owned());
        }
        if self.share_alike {
            out.push("Share-alike: derivatives must carry the same license.".to_owned());
        }
        if !self.redistribution {
            out.push("Redistribution of the weights is not permitted.".to_owned());
        }
        for r in &self.use_restrictions {
            out.push(format!("Use restriction: {r}"));
        }
        if self.gated {
            out.push("Gated: the terms must be accepted before download.".to_owned());
        }
        if out.is_empty() {
            out.push("No obligations beyond the license text.".to_owned());
        }
        out
    }
}

/// How a license reads for the Model Openness Framework, which asks for an
/// OSI/FSF license on code, an open-data license on data and an open-content
/// license on documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenseClass {
    /// OSI approved or FSF free/libre: an open-source software license.
    OpenSource,
    /// An open-data or open-content license (CC-BY, CC0, CDLA, ODbL, PDDL ...).
    OpenContent,
    /// Any other license, including non-commercial and use-restricted ones.
    Restrictive,
    /// The id is not on the SPDX list and no terms are known.
    Unknown,
}

/// Open-data and open-content licenses that the Model Openness Framework accepts
/// for datasets and documents.
const OPEN_CONTENT: &[&str] = &[
    "CC0-1.0",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-SA-3.0",
    "CC-BY-SA-4.0",
    "CDLA-Permissive-1.0",
    "CDLA-Permissive-2.0",
    "CDLA-Sharing-1.0",
    "ODbL-1.0",
    "ODC-By-1.0",
    "PDDL-1.0",
];

/// Why an id or expression is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseIdError(pub String);

/// The SPDX way of saying that no license was declared. zoo reads it as unknown
/// terms: a pull needs the user's acceptance, and a policy can deny it.
pub const NO_ASSERTION: &str = "NOASSERTION";

impl License {
    /// Validate the id: a parseable SPDX expression whose ids are on the SPDX list,
    /// or `LicenseRef-` items that the card names and links.
    pub fn validate(&self) -> Result<(), LicenseIdError> {
        if self.id == NO_ASSERTION {
            return Ok(());
        }
        let expr = spdx::Expression::parse(&self.id).map_err(|e| {
            LicenseIdError(format!(
                "license id '{}' is not a valid SPDX expression ({}); use an SPDX id such as \
                 Apache-2.0, or LicenseRef-<name> with `name` and `url`",
                self.id, e.reason
            ))
        })?;
        let has_ref = expr
            .requirements()
            .any(|r| matches!(r.req.license, spdx::LicenseItem::Other(_)));
        if has_ref && (self.name.is_none() || self.url.is_none()) {
            return Err(LicenseIdError(format!(
                "license '{}' is a LicenseRef: give its `name` and `url` as well",
                self.id
            )));
        }
        Ok(())
    }

    fn ids(&self) -> Vec<String> {
        if self.id == NO_ASSERTION {
            return vec![self.id.clone()];
        }
        match spdx::Expression::parse(&self.id) {
            Ok(expr) => expr
                .requirements()
                .map(|r| match &r.req.license {
                    spdx::LicenseItem::Spdx { id, .. } => id.name.to_owned(),
                    spdx::LicenseItem::Other(other) => format!("LicenseRef-{}", other.lic_ref),
                })
                .collect(),
            Err(_) => vec![self.id.clone()],
        }
    }

    /// The effective terms: those written on the card, else derived from the ids.
    /// `None` when they cannot be known (an unknown `LicenseRef` without terms).
    pub fn terms(&self) -> Option<Terms> {
        if let Some(t) = &self.terms {
            return Some(t.clone());
        }
        let per_id: Option<Vec<Terms>> = self.ids().iter().map(|id| terms_of_id(id)).collect();
        let per_id = per_id?;
        // `A OR B` lets the user pick the most permissive; `A AND B` binds both.
        let any_of = self.id.contains(" OR ");
        per_id.into_iter().reduce(|a, b| combine(a, b, any_of))
    }

    /// The weakest class over the expression's ids (the strongest for `OR`).
    pub fn class(&self) -> LicenseClass {
        let classes = self
            .ids()
            .iter()
            .map(|id| class_of_id(id))
            .collect::<Vec<_>>();
        let pick = if self.id.contains(" OR ") {
            classes.iter().min()
        } else {
            classes.iter().max()
        };
        pick.copied().unwrap_or(LicenseClass::Unknown)
    }

    /// Whether `pattern` (`*` matches any text, case-insensitive) matches the whole
    /// expression or any license id in it, so `CC-BY-NC-*` catches
    /// `CC-BY-NC-4.0 AND MIT`.
    pub fn matches(&self, pattern: &str) -> bool {
        glob_match(pattern, &self.id) || self.ids().iter().any(|id| glob_match(pattern, id))
    }

    /// A short human label: the name when given, else the id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// Case-insensitive match where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let text = text.to_ascii_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

fn combine(a: Terms, b: Terms, any_of: bool) -> Terms {
    if any_of {
        // The user may choose either license; take the less demanding one.
        if b.is_unrestricted() && !a.is_unrestricted() {
            b
        } else {
            a
        }
    } else {
        a.and(b)
    }
}

fn class_of_id(id: &str) -> LicenseClass {
    if OPEN_CONTENT.contains(&id) {
        return LicenseClass::OpenContent;
    }
    match spdx::license_id(id) {
        Some(lic) if lic.is_osi_approved() || lic.is_fsf_free_libre() => LicenseClass::OpenSource,
        Some(_) => LicenseClass::Restrictive,
        None => LicenseClass::Unknown,
    }
}

/// Terms for ids whose meaning is settled by the SPDX list and the license family.
fn terms_of_id(id: &str) -> Option<Terms> {
    let public_domain = matches!(id, "CC0-1.0" | "Unlicense" | "PDDL-1.0" | "0BSD" | "MIT-0");
    if public_domain {
        return Some(Terms {
            attribution: false,
            ..Terms::PERMISSIVE
        });
    }
    if id.starts_with("CC-BY") {
        let mut terms = Terms {
            commercial_use: !id.contains("-NC"),
            share_alike: id.contains("-SA"),
            ..Terms::PERMISSIVE
        };
        if id.contains("-ND") {
            terms
                .use_restrictions
                .push("No derivatives: modified versions may not be shared.".to_owned());
        }
        return Some(terms);
    }
    if matches!(
        id,
        "ODbL-1.0" | "CDLA-Sharing-1.0" | "LGPL-2.1-only" | "LGPL-3.0-only" | "MPL-2.0"
    ) {
        return Some(Terms {
            share_alike: true,
            ..Terms::PERMISSIVE
        });
    }
    let lic = spdx::license_id(id)?;
    if lic.is_osi_approved() || lic.is_fsf_free_libre() || OPEN_CONTENT.contains(&id) {
        return Some(Terms {
            share_alike: lic.is_copyleft(),
            ..Terms::PERMISSIVE
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lic(id: &str) -> License {
        License {
            id: id.to_owned(),
            name: None,
            url: None,
            terms: None,
        }
    }

    #[test]
    fn apache_is_permissive_open_source() {
        let l = lic("Apache-2.0");
        assert!(l.validate().is_ok());
        let t = l.terms().unwrap();
        assert!(t.is_unrestricted());
        assert!(t.attribution);
        assert_eq!(l.class(), LicenseClass::OpenSource);
    }

    #[test]
    fn non_commercial_creative_commons() {
        let t = lic("CC-BY-NC-4.0").terms().unwrap();
        assert!(!t.commercial_use);
        assert!(!t.is_unrestricted());
        assert_eq!(lic("CC-BY-NC-4.0").class(), LicenseClass::Restrictive);
        assert_eq!(lic("CC-BY-4.0").class(), LicenseClass::OpenContent);
    }

    #[test]
    fn license_ref_needs_name_and_url() {
        let l = lic("LicenseRef-Llama-3.1-Community");
        assert!(l.validate().unwrap_err().0.contains("name"));
        assert!(l.terms().is_none());
        assert_eq!(l.class(), LicenseClass::Unknown);
    }

    #[test]
    fn patterns_match_ids_inside_expressions() {
        assert!(glob_match("Apache-*", "Apache-2.0"));
        assert!(glob_match("*NC*", "CC-BY-NC-SA-4.0"));
        assert!(!glob_match("MIT", "MIT-0"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(lic("CC-BY-NC-4.0 AND MIT").matches("cc-by-nc-*"));
        assert!(!lic("Apache-2.0").matches("CC-*"));
    }

    #[test]
    fn misspelt_id_is_rejected() {
        assert!(lic("Apache 2").validate().is_err());
        assert!(lic("Apache-2.0 OR").validate().is_err());
    }

    #[test]
    fn or_takes_the_permissive_branch_and_takes_both() {
        assert!(lic("CC-BY-NC-4.0 OR MIT").terms().unwrap().commercial_use);
        assert!(!lic("CC-BY-NC-4.0 AND MIT").terms().unwrap().commercial_use);
    }
}
