//! The license gate: decided before the first byte is fetched.

use zoo_registry::{Card, OpennessClass};

use crate::error::FetchError;

/// A license pattern the user's policy denies, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyRule {
    pub pattern: String,
    /// e.g. `--deny-license` or the config file's path.
    pub origin: String,
}

/// Whether pulling `card` needs the user to accept its license first: gated
/// repositories, restrictive terms, and terms zoo cannot read.
pub fn needs_acceptance(card: &Card) -> bool {
    match card.license.terms() {
        Some(t) => t.gated || !t.is_unrestricted(),
        None => true,
    }
}

/// Refuse closed models, denied licenses and unaccepted restrictive licenses.
/// Returns whether an acceptance is to be recorded in the manifest.
pub fn check(card: &Card, accepted: bool, deny: &[DenyRule]) -> Result<bool, FetchError> {
    if card.openness.class == OpennessClass::Closed {
        let (provider, docs_url) = card
            .api
            .as_ref()
            .map(|a| (a.provider.clone(), a.docs_url.clone()))
            .unwrap_or_else(|| {
                (
                    "its provider".to_owned(),
                    "the provider's documentation".to_owned(),
                )
            });
        return Err(FetchError::ClosedModel {
            model: card.name.to_string(),
            provider,
            docs_url,
        });
    }
    if let Some(rule) = deny.iter().find(|r| card.license.matches(&r.pattern)) {
        return Err(FetchError::LicenseDenied {
            model: card.name.to_string(),
            license: card.license.id.clone(),
            pattern: rule.pattern.clone(),
            origin: rule.origin.clone(),
        });
    }
    if !needs_acceptance(card) {
        return Ok(false);
    }
    if accepted {
        return Ok(true);
    }
    let why = match card.license.terms() {
        None => "zoo cannot read its terms".to_owned(),
        Some(t) => {
            let mut reasons = Vec::new();
            if t.gated {
                reasons.push("requires accepting its terms");
            }
            if !t.commercial_use {
                reasons.push("forbids commercial use");
            }
            if !t.redistribution {
                reasons.push("forbids redistribution");
            }
            if !t.use_restrictions.is_empty() {
                reasons.push("restricts how the model may be used");
            }
            reasons.join(", ")
        }
    };
    Err(FetchError::LicenseNotAccepted {
        model: card.name.to_string(),
        license: card.license.display_name().to_owned(),
        url: card
            .license
            .url
            .as_ref()
            .map(|u| format!(" ({u})"))
            .unwrap_or_default(),
        why,
    })
}
