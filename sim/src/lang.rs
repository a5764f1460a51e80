//! The languages kafkasim speaks: English and Simplified Chinese, chosen by `--lang` or,
//! without it, by the locale (`LC_ALL`, then `LC_MESSAGES`, then `LANG`, as POSIX says).

use std::fmt;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lang {
    #[default]
    En,
    /// Simplified Chinese, for the course kafkasim was made from.
    ZhCn,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhCn];

    /// Its BCP 47 tag: `en`, `zh-CN`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// A tag as `--lang` takes it: `en`, `zh-CN`, and the forms locales write
    /// (`zh_CN.UTF-8`, `zh_CN`, `zh`, `en_US.UTF-8`, `C`, `POSIX`). None for a language
    /// kafkasim does not speak.
    pub fn parse(tag: &str) -> Option<Lang> {
        // `zh_CN.UTF-8@variant` → `zh_cn`
        let base = tag
            .split(['.', '@'])
            .next()
            .unwrap_or_default()
            .replace('_', "-")
            .to_ascii_lowercase();
        match base.as_str() {
            "en" | "c" | "posix" => Some(Lang::En),
            b if b.starts_with("en-") => Some(Lang::En),
            // Simplified Chinese: mainland China and Singapore, or the script named.
            "zh" | "zh-cn" | "zh-sg" | "zh-hans" | "zh-hans-cn" => Some(Lang::ZhCn),
            _ => None,
        }
    }

    /// The language of a locale: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is
    /// set and not empty decides (English when it names another language, or none is
    /// set).
    pub fn from_locale(
        lc_all: Option<&str>,
        lc_messages: Option<&str>,
        lang: Option<&str>,
    ) -> Lang {
        [lc_all, lc_messages, lang]
            .into_iter()
            .flatten()
            .find(|v| !v.is_empty())
            .and_then(Lang::parse)
            .unwrap_or(Lang::En)
    }

    /// The other language, for the TUI's `L`.
    pub fn next(self) -> Lang {
        match self {
            Lang::En => Lang::ZhCn,
            Lang::ZhCn => Lang::En,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn tags_and_locales_name_the_language() {
        for (tag, lang) in [
            ("en", Some(Lang::En)),
            ("en_US.UTF-8", Some(Lang::En)),
            ("C", Some(Lang::En)),
            ("POSIX", Some(Lang::En)),
            ("zh-CN", Some(Lang::ZhCn)),
            ("zh_CN.UTF-8", Some(Lang::ZhCn)),
            ("zh_CN", Some(Lang::ZhCn)),
            ("zh", Some(Lang::ZhCn)),
            ("zh_TW.UTF-8", None),
            ("fr_FR.UTF-8", None),
        ] {
            assert_eq!(Lang::parse(tag), lang, "{tag}");
        }
    }

    #[test]
    fn lc_all_then_lc_messages_then_lang_decide() {
        let zh = Some("zh_CN.UTF-8");
        let en = Some("en_US.UTF-8");
        assert_eq!(Lang::from_locale(None, None, zh), Lang::ZhCn);
        assert_eq!(Lang::from_locale(None, en, zh), Lang::En);
        assert_eq!(Lang::from_locale(zh, en, en), Lang::ZhCn);
        assert_eq!(
            Lang::from_locale(Some(""), None, zh),
            Lang::ZhCn,
            "empty is unset"
        );
        assert_eq!(Lang::from_locale(None, None, None), Lang::En);
        assert_eq!(Lang::from_locale(None, None, Some("fr_FR.UTF-8")), Lang::En);
    }
}
