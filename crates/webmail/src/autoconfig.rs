//! Automatic configuration for mail programs: Thunderbird autoconfig, Outlook autodiscover
//! and an Apple configuration profile, all from the same server names and ports as the
//! set-up page.

use crate::error::{WebError, WebResult};
use crate::session::User;
use crate::{App, ClientSetup};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Escapes text for XML element content and attribute values.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A plausible address from a client (only used to echo the domain and user name back).
fn plausible_address(address: &str) -> Option<&str> {
    let address = address.trim();
    let (local, domain) = address.split_once('@')?;
    let ok = !local.is_empty()
        && address.len() <= 254
        && domain.contains('.')
        && address
            .chars()
            .all(|c| c.is_alphanumeric() || "@.-_+".contains(c));
    ok.then_some(address)
}

fn xml_response(content_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct AutoconfigQuery {
    emailaddress: Option<String>,
}

/// Thunderbird's autoconfig file (`config-v1.1.xml`, the Mozilla ISPDB format).
pub(crate) async fn thunderbird(
    State(app): State<App>,
    Query(query): Query<AutoconfigQuery>,
) -> Response {
    let setup = &app.config.setup;
    let domain = query
        .emailaddress
        .as_deref()
        .and_then(plausible_address)
        .and_then(|a| a.split_once('@'))
        .map_or_else(|| setup.hostname.clone(), |(_, d)| d.to_owned());
    let host = xml(&setup.hostname);
    let server = |kind: &str, tag: &str, port: Option<u16>, socket: &str| {
        port.map(|port| {
            format!(
                "    <{tag} type=\"{kind}\">\n      <hostname>{host}</hostname>\n      <port>{port}</port>\n      \
                 <socketType>{socket}</socketType>\n      <authentication>password-cleartext</authentication>\n      \
                 <username>%EMAILADDRESS%</username>\n    </{tag}>\n"
            )
        })
        .unwrap_or_default()
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n  \
         <emailProvider id=\"{d}\">\n    <domain>{d}</domain>\n    <displayName>{d} mail</displayName>\n    \
         <displayShortName>{d}</displayShortName>\n{}{}{}{}{}{}  </emailProvider>\n</clientConfig>\n",
        server("imap", "incomingServer", setup.imaps, "SSL"),
        server("imap", "incomingServer", setup.imap, "STARTTLS"),
        server("pop3", "incomingServer", setup.pop3s, "SSL"),
        server("pop3", "incomingServer", setup.pop3, "STARTTLS"),
        server("smtp", "outgoingServer", setup.submissions, "SSL"),
        server("smtp", "outgoingServer", setup.submission, "STARTTLS"),
        d = xml(&domain),
    );
    xml_response("application/xml; charset=utf-8", body)
}

/// The `<EMailAddress>` of an autodiscover request.
fn requested_address(body: &str) -> Option<&str> {
    let start = body.find("<EMailAddress>")? + "<EMailAddress>".len();
    let end = start + body[start..].find("</EMailAddress>")?;
    plausible_address(&body[start..end])
}

/// Outlook's autodiscover (POX, the "outlook" response schema, MS-OXDSCLI).
pub(crate) async fn outlook(State(app): State<App>, body: Bytes) -> WebResult<Response> {
    let text = std::str::from_utf8(&body).map_err(|_| WebError::BadRequest("not UTF-8".into()))?;
    let address = requested_address(text)
        .ok_or_else(|| WebError::BadRequest("no EMailAddress in the request".into()))?;
    let setup: &ClientSetup = &app.config.setup;
    let protocol = |kind: &str, port: Option<u16>, ssl: bool, encryption: &str| {
        port.map(|port| {
            format!(
                "      <Protocol>\n        <Type>{kind}</Type>\n        <Server>{}</Server>\n        <Port>{port}</Port>\n        \
                 <LoginName>{}</LoginName>\n        <DomainRequired>off</DomainRequired>\n        <SPA>off</SPA>\n        \
                 <SSL>{}</SSL>\n        <Encryption>{encryption}</Encryption>\n        <AuthRequired>on</AuthRequired>\n      </Protocol>\n",
                xml(&setup.hostname),
                xml(address),
                if ssl { "on" } else { "off" },
            )
        })
    };
    let imap = protocol("IMAP", setup.imaps, true, "SSL")
        .or_else(|| protocol("IMAP", setup.imap, true, "TLS"))
        .unwrap_or_default();
    let pop3 = protocol("POP3", setup.pop3s, true, "SSL")
        .or_else(|| protocol("POP3", setup.pop3, true, "TLS"))
        .unwrap_or_default();
    let smtp = protocol("SMTP", setup.submissions, true, "SSL")
        .or_else(|| protocol("SMTP", setup.submission, true, "TLS"))
        .unwrap_or_default();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n  \
         <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n    \
         <Account>\n      <AccountType>email</AccountType>\n      <Action>settings</Action>\n{imap}{pop3}{smtp}    \
         </Account>\n  </Response>\n</Autodiscover>\n"
    );
    Ok(xml_response("application/xml; charset=utf-8", body))
}

fn uuid() -> String {
    let token = crate::session::random_token();
    format!(
        "{}-{}-4{}-a{}-{}",
        &token[0..8],
        &token[8..12],
        &token[13..16],
        &token[17..20],
        &token[20..32]
    )
    .to_uppercase()
}

/// An Apple configuration profile (`.mobileconfig`) for the logged-in user's account.
pub(crate) async fn apple(State(app): State<App>, user: User) -> WebResult<Response> {
    let setup = &app.config.setup;
    let (incoming_port, incoming_ssl) = match (setup.imaps, setup.imap) {
        (Some(port), _) => (port, true),
        (None, Some(port)) => (port, true),
        (None, None) => return Err(WebError::NotFound),
    };
    let outgoing_port = setup
        .submissions
        .or(setup.submission)
        .ok_or(WebError::NotFound)?;
    let email = xml(&user.email);
    let host = xml(&setup.hostname);
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>EmailAccountDescription</key><string>{email}</string>
      <key>EmailAccountName</key><string>{email}</string>
      <key>EmailAccountType</key><string>EmailTypeIMAP</string>
      <key>EmailAddress</key><string>{email}</string>
      <key>IncomingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>IncomingMailServerHostName</key><string>{host}</string>
      <key>IncomingMailServerPortNumber</key><integer>{incoming_port}</integer>
      <key>IncomingMailServerUseSSL</key><{incoming_ssl}/>
      <key>IncomingMailServerUsername</key><string>{email}</string>
      <key>OutgoingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>OutgoingMailServerHostName</key><string>{host}</string>
      <key>OutgoingMailServerPortNumber</key><integer>{outgoing_port}</integer>
      <key>OutgoingMailServerUseSSL</key><true/>
      <key>OutgoingMailServerUsername</key><string>{email}</string>
      <key>OutgoingPasswordSameAsIncomingPassword</key><true/>
      <key>PayloadDisplayName</key><string>Mail ({email})</string>
      <key>PayloadIdentifier</key><string>{host}.mail.{uuid1}</string>
      <key>PayloadType</key><string>com.apple.mail.managed</string>
      <key>PayloadUUID</key><string>{uuid1}</string>
      <key>PayloadVersion</key><integer>1</integer>
    </dict>
  </array>
  <key>PayloadDisplayName</key><string>Mail for {email}</string>
  <key>PayloadIdentifier</key><string>{host}.profile.{uuid2}</string>
  <key>PayloadRemovalDisallowed</key><false/>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadUUID</key><string>{uuid2}</string>
  <key>PayloadVersion</key><integer>1</integer>
</dict>
</plist>
"#,
        incoming_ssl = if incoming_ssl { "true" } else { "false" },
        uuid1 = uuid(),
        uuid2 = uuid(),
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-apple-aspen-config"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        header::HeaderValue::from_static("attachment; filename=\"mail.mobileconfig\""),
    );
    Ok((headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autodiscover_request_address() {
        let body = "<Autodiscover><Request><EMailAddress>u@example.test</EMailAddress></Request></Autodiscover>";
        assert_eq!(requested_address(body), Some("u@example.test"));
        assert_eq!(
            requested_address("<EMailAddress>a<b@x.y</EMailAddress>"),
            None
        );
        assert_eq!(requested_address("nothing"), None);
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(xml("<a&\"'>"), "&lt;a&amp;&quot;&apos;&gt;");
    }

    #[test]
    fn uuids_have_the_right_shape() {
        let id = uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }
}
