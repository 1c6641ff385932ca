//! What the directory says about a person, read from their entry, and the filter that finds
//! them. Plain functions over what a search returned, tested without a directory.

use std::collections::HashMap;

use ldap3::{SearchEntry, ldap_escape};

/// The attributes a person's search asks for: their login names, names, groups and whether
/// they are disabled (AD's `userAccountControl`, OpenLDAP's `pwdAccountLockedTime`; the
/// operational ones must be named to be returned).
pub fn wanted_attributes(display_name_attr: &str) -> Vec<String> {
    let mut attrs: Vec<String> = [
        "uid",
        "sAMAccountName",
        "cn",
        "memberOf",
        "userAccountControl",
        "pwdAccountLockedTime",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    if !attrs
        .iter()
        .any(|a| a.eq_ignore_ascii_case(display_name_attr))
    {
        attrs.push(display_name_attr.to_owned());
    }
    attrs
}

/// The search filter for `username`: every `{username}` in the operator's filter replaced by
/// the name escaped as RFC 4515 says (`*`, `(`, `)`, `\` and NUL), so a name cannot add to
/// the filter.
pub fn user_filter(template: &str, username: &str) -> String {
    template.replace("{username}", &ldap_escape(username))
}

/// The filter that finds `dn` (or `login`) among a group's members: `groupOfNames`,
/// `groupOfUniqueNames` and `posixGroup` alike.
pub fn member_filter(dn: &str, login: &str) -> String {
    format!(
        "(|(member={dn})(uniqueMember={dn})(memberUid={login}))",
        dn = ldap_escape(dn),
        login = ldap_escape(login)
    )
}

/// A DN as compared here: no spaces around separators, case folded (directories compare
/// DNs' attribute types and most values without case).
pub fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.split('=').map(str::trim).collect::<Vec<_>>().join("="))
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

/// A person's entry, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    attrs: HashMap<String, Vec<String>>,
}

impl From<SearchEntry> for Entry {
    fn from(e: SearchEntry) -> Self {
        Self::new(e.dn, e.attrs)
    }
}

impl Entry {
    pub fn new(dn: String, attrs: HashMap<String, Vec<String>>) -> Self {
        // Attribute names compare without case.
        let attrs = attrs
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        Self { dn, attrs }
    }

    fn values(&self, attr: &str) -> &[String] {
        self.attrs
            .get(&attr.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    fn first(&self, attr: &str) -> Option<&str> {
        self.values(attr)
            .iter()
            .map(|v| v.trim())
            .find(|v| !v.is_empty())
    }

    /// The login name as the directory spells it: the `uid` or `sAMAccountName` value that
    /// is the name typed (whatever its case), else the name typed.
    pub fn login_name(&self, typed: &str) -> String {
        ["uid", "sAMAccountName"]
            .iter()
            .flat_map(|a| self.values(a))
            .find(|v| v.eq_ignore_ascii_case(typed))
            .cloned()
            .unwrap_or_else(|| typed.to_owned())
    }

    /// What people see: the display name attribute, else `cn`.
    pub fn display_name(&self, attr: &str) -> Option<String> {
        self.first(attr)
            .or_else(|| self.first("cn"))
            .map(str::to_owned)
    }

    /// Whether the entry says it is a member of `group_dn` (`memberOf`, kept by AD and by
    /// OpenLDAP's memberof overlay).
    pub fn member_of(&self, group_dn: &str) -> bool {
        let group = normalize_dn(group_dn);
        self.values("memberOf")
            .iter()
            .any(|g| normalize_dn(g) == group)
    }

    /// Disabled in the directory: AD's `userAccountControl` with ACCOUNTDISABLE (bit 2), or
    /// an OpenLDAP account locked by its password policy (`pwdAccountLockedTime`).
    pub fn disabled(&self) -> bool {
        let ad_disabled = self
            .first("userAccountControl")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|flags| flags & 2 != 0);
        ad_disabled || self.first("pwdAccountLockedTime").is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(attrs: &[(&str, &[&str])]) -> Entry {
        Entry::new(
            "uid=alice,ou=people,dc=example,dc=com".into(),
            attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect(),
        )
    }

    #[test]
    fn a_name_cannot_add_to_the_filter() {
        let t = super::super::config::DEFAULT_USER_FILTER;
        assert_eq!(
            user_filter(t, "alice"),
            "(|(uid=alice)(sAMAccountName=alice))"
        );
        assert_eq!(
            user_filter(t, "*"),
            "(|(uid=\\2a)(sAMAccountName=\\2a))",
            "a wildcard is a literal star"
        );
        let injected = user_filter("(uid={username})", "alice)(uid=*");
        assert_eq!(injected, "(uid=alice\\29\\28uid=\\2a)");
        assert_eq!(
            user_filter("(uid={username})", "*)(|(uid=*"),
            "(uid=\\2a\\29\\28|\\28uid=\\2a)"
        );
        assert_eq!(
            user_filter("(uid={username})", "a\\b\0"),
            "(uid=a\\5cb\\00)"
        );
        assert_eq!(
            member_filter("uid=a(b),dc=x", "a*"),
            "(|(member=uid=a\\28b\\29,dc=x)(uniqueMember=uid=a\\28b\\29,dc=x)(memberUid=a\\2a))"
        );
    }

    #[test]
    fn names_come_from_the_entry() {
        let e = entry(&[
            ("uid", &["Alice"]),
            ("cn", &["Alice L."]),
            ("displayName", &["Alice Liddell"]),
        ]);
        assert_eq!(e.login_name("alice"), "Alice", "the directory's spelling");
        assert_eq!(e.login_name("someone"), "someone");
        assert_eq!(
            e.display_name("displayName").as_deref(),
            Some("Alice Liddell")
        );
        assert_eq!(
            e.display_name("DISPLAYNAME").as_deref(),
            Some("Alice Liddell")
        );
        let no_display = entry(&[("cn", &["Alice L."])]);
        assert_eq!(
            no_display.display_name("displayName").as_deref(),
            Some("Alice L.")
        );
        assert_eq!(entry(&[]).display_name("displayName"), None);
        let ad = entry(&[("sAMAccountName", &["ALICE"])]);
        assert_eq!(ad.login_name("alice"), "ALICE");
    }

    #[test]
    fn group_membership_compares_dns_as_directories_do() {
        let e = entry(&[(
            "memberOf",
            &["CN=Natter Users, OU=Groups,DC=example,DC=com"],
        )]);
        assert!(e.member_of("cn=natter users,ou=groups,dc=example,dc=com"));
        assert!(!e.member_of("cn=admins,ou=groups,dc=example,dc=com"));
        assert!(!entry(&[]).member_of("cn=natter users,ou=groups,dc=example,dc=com"));
    }

    #[test]
    fn disabled_accounts_are_seen_in_both_dialects() {
        assert!(
            entry(&[("userAccountControl", &["514"])]).disabled(),
            "512 | 2"
        );
        assert!(!entry(&[("userAccountControl", &["512"])]).disabled());
        assert!(entry(&[("pwdAccountLockedTime", &["000001010000Z"])]).disabled());
        assert!(!entry(&[]).disabled());
    }

    #[test]
    fn the_search_asks_for_the_display_name_once() {
        assert_eq!(wanted_attributes("cn").len(), 6);
        assert!(wanted_attributes("displayName").contains(&"displayName".to_owned()));
    }
}
