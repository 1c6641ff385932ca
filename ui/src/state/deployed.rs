//! What the organisation deployed, as the login form and the settings show it.

use natter_protocol::Deployed;

/// What the server field starts with: the fixed address when locked, else the last server
/// used, else the deployed one.
pub fn initial_server(deployed: &Deployed, last_used: Option<&str>) -> Option<String> {
    deployed
        .locked_server()
        .or_else(|| last_used.map(str::to_owned))
        .or_else(|| (!deployed.servers.is_empty()).then(|| deployed.servers.join(", ")))
}

/// Whether the LAN's servers are worth listing: not when the address is fixed.
pub fn lists_discovered(deployed: &Deployed) -> bool {
    deployed.locked_server().is_none() && deployed.discovery != Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_address_wins_over_the_last_one_used() {
        let mut d = Deployed {
            servers: vec!["10.0.0.5:3000".into(), "10.0.0.6:3000".into()],
            ..Deployed::default()
        };
        assert_eq!(
            initial_server(&d, Some("old:1")).as_deref(),
            Some("old:1"),
            "a suggestion only"
        );
        assert_eq!(
            initial_server(&d, None).as_deref(),
            Some("10.0.0.5:3000, 10.0.0.6:3000")
        );
        assert!(lists_discovered(&d));
        d.lock_server = true;
        assert_eq!(
            initial_server(&d, Some("old:1")).as_deref(),
            Some("10.0.0.5:3000, 10.0.0.6:3000")
        );
        assert!(!lists_discovered(&d));
        assert_eq!(initial_server(&Deployed::default(), None), None);
        let no_lan = Deployed {
            discovery: Some(false),
            ..Deployed::default()
        };
        assert!(!lists_discovered(&no_lan));
    }
}
