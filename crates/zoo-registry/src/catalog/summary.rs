//! What the catalog needs of a card before the card itself: the fields names
//! resolve through and search ranks by. The index keeps them beside each card
//! so that `zoo info NAME` and `zoo search TEXT` parse only the cards they
//! show. A catalog holds one per card, so each is one allocation: its text
//! fields end to end in one string.

use crate::card::{Card, Task};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub task: Task,
    /// The fields of [`Field`] end to end (absent ones empty), then the aliases.
    text: Box<str>,
    /// Where each field of [`Field`], then each alias, ends in `text`.
    ends: Box<[u32]>,
    /// Which optional fields are present, by bit ([`Field::bit`]).
    present: u8,
}

/// The text fields of a summary, in their order in [`Summary::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Name,
    Family,
    Architecture,
    LicenseId,
    Description,
    Organization,
    /// The hub repository a card made by `zoo add` came from.
    HubRepo,
    /// The label file the card names (`io.labels`).
    Labels,
}

const FIELDS: usize = 8;

impl Field {
    /// The bit of an optional field in [`Summary::present`].
    fn bit(self) -> u8 {
        match self {
            Field::Organization => 1,
            Field::HubRepo => 2,
            Field::Labels => 4,
            _ => 0,
        }
    }
}

impl Summary {
    /// A summary from its fields: the eight of [`Field`] in order (`None`
    /// only for optional ones), then the aliases.
    pub fn new<'a>(
        task: Task,
        fields: [Option<&str>; FIELDS],
        aliases: impl Iterator<Item = &'a str> + Clone,
    ) -> Summary {
        let len = fields.iter().flatten().map(|f| f.len()).sum::<usize>()
            + aliases.clone().map(str::len).sum::<usize>();
        let mut text = String::with_capacity(len);
        let mut ends = Vec::with_capacity(FIELDS + aliases.clone().count());
        let mut present = 0;
        let all = [
            Field::Name,
            Field::Family,
            Field::Architecture,
            Field::LicenseId,
            Field::Description,
            Field::Organization,
            Field::HubRepo,
            Field::Labels,
        ];
        for (field, value) in all.into_iter().zip(fields) {
            if let Some(value) = value {
                text.push_str(value);
                present |= field.bit();
            }
            ends.push(text.len() as u32);
        }
        for a in aliases {
            text.push_str(a);
            ends.push(text.len() as u32);
        }
        Summary {
            task,
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
            present,
        }
    }

    pub fn of(card: &Card) -> Summary {
        Summary::new(
            card.task,
            [
                Some(&card.name),
                Some(&card.family),
                Some(&card.architecture),
                Some(&card.license.id),
                Some(&card.description),
                card.provenance.organization.as_deref(),
                card.hub.as_ref().map(|h| h.repo.as_str()),
                card.io.as_ref().and_then(|io| io.labels.as_deref()),
            ],
            card.aliases.iter().map(|a| a.as_str()),
        )
    }

    fn span(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// A field; an absent optional one is `None`.
    pub fn get(&self, field: Field) -> Option<&str> {
        let bit = field.bit();
        (bit == 0 || self.present & bit != 0).then(|| self.span(field as usize))
    }

    /// A field that every card has.
    pub fn field(&self, field: Field) -> &str {
        self.span(field as usize)
    }

    pub fn name(&self) -> &str {
        self.field(Field::Name)
    }

    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        (FIELDS..self.ends.len()).map(|i| self.span(i))
    }

    /// Whether this is the summary of `card` (compared without building one).
    pub fn describes(&self, card: &Card) -> bool {
        self.task == card.task
            && self.name() == card.name.as_str()
            && self.aliases().eq(card.aliases.iter().map(|a| a.as_str()))
            && self.field(Field::Family) == card.family
            && self.field(Field::Architecture) == card.architecture
            && self.field(Field::LicenseId) == card.license.id
            && self.field(Field::Description) == card.description
            && self.get(Field::Organization) == card.provenance.organization.as_deref()
            && self.get(Field::HubRepo) == card.hub.as_ref().map(|h| h.repo.as_str())
            && self.get(Field::Labels) == card.io.as_ref().and_then(|io| io.labels.as_deref())
    }

    /// Whether `query` is this card's name or one of its aliases, ignoring case.
    pub fn answers_to(&self, query: &str) -> bool {
        self.name().eq_ignore_ascii_case(query)
            || self.aliases().any(|a| a.eq_ignore_ascii_case(query))
    }

    /// How well one lower-case search word matches: 0 when it does not.
    pub fn match_score(&self, word: &str) -> u32 {
        let has = |s: &str| s.to_ascii_lowercase().contains(word);
        if self.answers_to(word) {
            return 100;
        }
        if has(self.name()) || self.aliases().any(has) {
            return 50;
        }
        if has(self.task.as_str())
            || has(self.field(Field::Family))
            || has(self.field(Field::Architecture))
        {
            return 20;
        }
        if has(self.field(Field::LicenseId)) || has(self.field(Field::Description)) {
            return 10;
        }
        if self.get(Field::Organization).is_some_and(has) {
            return 5;
        }
        0
    }
}
