//! Request signing and client order ids.
//!
//! Binance signs `HMAC-SHA256(secret, totalParams)` where `totalParams` is the
//! exact query string sent (here every parameter travels in the query string,
//! POST included), hex encoded, appended as the last parameter `signature`.

use crate::domain::OrderId;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Hex HMAC-SHA256 of `query` under `secret`.
pub fn sign_query(secret: &[u8], query: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(query.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// True when `signature` is the signature of `query` (constant time; the simulator uses it).
pub fn verify_query(secret: &[u8], query: &str, signature: &str) -> bool {
    let Ok(sig) = hex::decode(signature) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(query.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

/// Binance's limit on `newClientOrderId` (`^[a-zA-Z0-9-_]{1,36}$`).
pub const MAX_CLIENT_ORDER_ID_LEN: usize = 36;

/// Maps the engine's [`OrderId`] to a client order id and back:
/// `<prefix>-<id>`. Deterministic, so a resubmit after a crash or a timeout
/// carries the same id and the venue (or our lookup) recognises it; the
/// prefix (the bot's name, sanitized) tells this bot's orders from others on
/// the same account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOrderIds {
    prefix: String,
}

impl ClientOrderIds {
    /// Keeps ASCII letters and digits of `bot` (at most 15), `bf` if none remain.
    pub fn new(bot: &str) -> Self {
        let mut prefix: String = bot
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(15)
            .collect();
        if prefix.is_empty() {
            prefix = "bf".into();
        }
        Self { prefix }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The client order id of `id`, at most 36 characters (15 + 1 + 20 digits).
    pub fn client_id(&self, id: OrderId) -> String {
        format!("{}-{}", self.prefix, id.0)
    }

    /// The engine id behind a client order id, `None` when it is not one of ours.
    pub fn order_id(&self, client_id: &str) -> Option<OrderId> {
        let rest = client_id.strip_prefix(&self.prefix)?.strip_prefix('-')?;
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rest.parse().ok().map(OrderId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_binance_documented_example() {
        // The SIGNED endpoint example of Binance's REST API documentation.
        let secret = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        let sig = sign_query(secret, query);
        assert_eq!(
            sig,
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        assert!(verify_query(secret, query, &sig));
        assert!(!verify_query(secret, &format!("{query}0"), &sig));
        assert!(!verify_query(secret, query, "zz"));
    }

    #[test]
    fn client_ids_round_trip_and_fit_binance_limits() {
        let ids = ClientOrderIds::new("my-bot_eth.usdt.very.long.name");
        let id = OrderId(u64::MAX);
        let cid = ids.client_id(id);
        assert!(cid.len() <= MAX_CLIENT_ORDER_ID_LEN, "{cid}");
        assert!(
            cid.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(ids.order_id(&cid), Some(id));
        assert_eq!(ids.client_id(OrderId(7)), ids.client_id(OrderId(7)));
        assert_eq!(ids.order_id("web_123"), None);
        assert_eq!(ids.order_id(&format!("{}-x1", ids.prefix())), None);
        assert_eq!(ids.order_id(&format!("{}-", ids.prefix())), None);
        assert_eq!(ClientOrderIds::new("--").prefix(), "bf");
    }
}
